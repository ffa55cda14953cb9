import { cloneElement, type ReactElement } from 'react';

// A stable hook for end-to-end tests around antd controls that do not pass data-* attributes
// to their DOM (Select, DatePicker). Whatever a Form.Item injects (value, onChange, id, ...)
// is handed on to the control, so it can sit between a Form.Item and its control.
export function TestId({ id, children, block, ...injected }: { id: string; children: ReactElement; block?: boolean; [prop: string]: unknown }) {
  return (
    <span data-testid={id} style={{ display: block ? 'block' : 'inline-block' }}>
      {cloneElement(children, injected)}
    </span>
  );
}
