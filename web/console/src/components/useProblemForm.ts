// Shows an API problem on an antd form: each errors[] member on its field (resolveField: the
// field, or the tag list an entry belongs to), the rest in a banner above the form.
import type { FormInstance } from 'antd';
import { useCallback, useState } from 'react';
import { ApiError, problemFields, resolveField, type NamePath } from '../api/problem';

export function useProblemForm(form: FormInstance, map?: (p: NamePath) => NamePath, known?: (p: NamePath) => boolean) {
  const [banner, setBanner] = useState<string[]>([]);
  const showProblem = useCallback(
    (e: unknown) => {
      if (!(e instanceof ApiError)) {
        setBanner([String(e)]);
        return;
      }
      const resolve = (p: NamePath) => resolveField(map ? map(p) : p, (q) => form.getFieldValue(q));
      const { fields, rest } = problemFields(
        e.problem,
        (p) => (known ? known(p) : true) && resolve(p) !== null,
        (p) => resolve(p) ?? p,
      );
      form.setFields(fields);
      setBanner(rest);
      if (fields.length) form.scrollToField(fields[0].name);
    },
    [form, map, known],
  );
  const clear = useCallback(() => setBanner([]), []);
  return { banner, showProblem, clear };
}
