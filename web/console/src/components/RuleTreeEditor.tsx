// The visual rule builder: AND/OR groups (each may be negated) of conditions over the tag
// catalog, with the operators each tag type takes (src/segment: enum/multi_enum/bool/int/
// decimal/date). The tree is the model of rules/tree.ts; the parent keeps it in sync with
// the DSL text.
import { TestId } from './TestId';
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Button, Card, Checkbox, DatePicker, InputNumber, Segmented, Select, Space, Tooltip } from 'antd';
import dayjs from 'dayjs';
import { useTranslation } from 'react-i18next';
import { tagLabel, type TagDef } from '../api/tags';
import { bool, num, str, type Literal } from '../rules/dsl';
import { emptyGroup, newId, type Cond, type CondOp, type Group, type Node } from '../rules/tree';

type OpKey = CondOp | 'not_in';

export function opsFor(type: string | undefined): OpKey[] {
  switch (type) {
    case 'enum':
      return ['in', 'not_in', '=', '!=', 'exists'];
    case 'multi_enum':
      return ['has', 'has_all', 'exists'];
    case 'bool':
      return ['=', 'exists'];
    case 'int':
    case 'decimal':
    case 'date':
      return ['>=', '<=', '>', '<', '=', '!=', 'between', 'exists'];
    default:
      return ['=', '!=', '<', '<=', '>', '>=', 'between', 'in', 'not_in', 'has', 'has_all', 'exists'];
  }
}

function literalFor(type: string | undefined, v: string | number | boolean): Literal {
  if (type === 'bool') return bool(v === true || v === 'true');
  if ((type === 'int' || type === 'decimal') && v !== '' && !Number.isNaN(Number(v))) return num(v as number);
  return str(String(v));
}

function defaultCond(tag: TagDef): Cond {
  const op = opsFor(tag.type)[0] as CondOp;
  return { type: 'cond', id: newId(), field: tag.key, op, values: tag.type === 'bool' ? [bool(true)] : [], not: false };
}

function ValueEditor({ cond, tag, onChange }: { cond: Cond; tag?: TagDef; onChange: (c: Cond) => void }) {
  const { t } = useTranslation();
  const type = tag?.type;
  const set = (values: Literal[]) => onChange({ ...cond, values });
  if (cond.op === 'exists') return null;
  const multi = cond.op === 'in' || cond.op === 'has' || cond.op === 'has_all';
  if (type === 'bool') {
    return (
      <TestId id="cond-value"><Select
        style={{ width: 100 }}
        value={cond.values[0]?.text}
        onChange={(v) => set([bool(v === 'true')])}
        options={[
          { value: 'true', label: t('rule.true') },
          { value: 'false', label: t('rule.false') },
        ]}
       
      /></TestId>
    );
  }
  if (type === 'enum' || type === 'multi_enum' || multi) {
    const options = (tag?.values ?? []).map((v) => ({ value: v, label: v }));
    if (multi) {
      return (
        <TestId id="cond-value">
        <Select
          mode="tags"
          style={{ minWidth: 220 }}
          value={cond.values.map((v) => v.text)}
          options={options}
          onChange={(vs: string[]) => set(vs.map((v) => literalFor(type, v)))}
          placeholder={t('rule.values')}
        />
        </TestId>
      );
    }
    return (
      <TestId id="cond-value">
      <Select
        showSearch
        style={{ minWidth: 160 }}
        value={cond.values[0]?.text}
        options={options}
        onChange={(v: string) => set([literalFor(type, v)])}
      />
      </TestId>
    );
  }
  if (type === 'date') {
    const pick = (i: number) => (
      <DatePicker
        key={i}
        value={cond.values[i] ? dayjs(cond.values[i].text) : null}
        onChange={(d) => {
          const next = [...cond.values];
          next[i] = str(d ? d.format('YYYY-MM-DD') : '');
          set(next);
        }}
      />
    );
    return <Space>{cond.op === 'between' ? [pick(0), <span key="and">~</span>, pick(1)] : pick(0)}</Space>;
  }
  const number = (i: number) => (
    <InputNumber
      key={i}
      style={{ width: 140 }}
      precision={type === 'int' ? 0 : tag?.scale}
      value={cond.values[i] && cond.values[i].kind === 'number' ? Number(cond.values[i].text) : cond.values[i]?.text}
      onChange={(v) => {
        const next = [...cond.values];
        if (v === null || v === undefined || v === '') next.splice(i, 1, { kind: 'number', text: '' });
        else next[i] = literalFor(type ?? 'int', v as number);
        set(next);
      }}
      data-testid={`cond-value-${i}`}
    />
  );
  return <Space>{cond.op === 'between' ? [number(0), <span key="and">~</span>, number(1)] : number(0)}</Space>;
}

function CondEditor({ cond, tags, onChange, onRemove }: { cond: Cond; tags: TagDef[]; onChange: (c: Cond) => void; onRemove: () => void }) {
  const { t, i18n } = useTranslation();
  const en = i18n.language.startsWith('en');
  const tag = tags.find((x) => x.key === cond.field);
  const opKey: OpKey = cond.op === 'in' && cond.not ? 'not_in' : cond.op;
  const categories = [...new Set(tags.map((x) => x.category ?? 'basic'))];
  return (
    <Space wrap data-testid="cond" style={{ padding: '4px 0' }}>
      {!(cond.op === 'in') && (
        <Tooltip title={t('rule.notHint')}>
          <Checkbox checked={cond.not} onChange={(e) => onChange({ ...cond, not: e.target.checked })}>
            {t('rule.not')}
          </Checkbox>
        </Tooltip>
      )}
      <TestId id="cond-field"><Select
        showSearch
        style={{ width: 220 }}
        placeholder={t('rule.field')}
        value={cond.field || undefined}
        optionFilterProp="label"
        options={categories.map((c) => ({
          label: t(`tagCategory.${c}`),
          options: tags.filter((x) => (x.category ?? 'basic') === c).map((x) => ({ value: x.key, label: `${tagLabel(x, en)} (${x.key})` })),
        }))}
        onChange={(key: string) => {
          const next = tags.find((x) => x.key === key);
          if (next) onChange({ ...defaultCond(next), id: cond.id });
        }}
       
      /></TestId>
      <TestId id="cond-op"><Select
        style={{ width: 130 }}
        value={opKey}
        options={opsFor(tag?.type).map((o) => ({ value: o, label: t(`op.${o}`) }))}
        onChange={(o: OpKey) => {
          const op: CondOp = o === 'not_in' ? 'in' : o;
          const keep = (op === 'between') === (cond.op === 'between') && op !== 'exists';
          onChange({ ...cond, op, not: o === 'not_in' ? true : op === 'in' ? false : cond.not, values: keep ? cond.values : [] });
        }}
       
      /></TestId>
      <ValueEditor cond={cond} tag={tag} onChange={onChange} />
      <Button type="text" danger icon={<DeleteOutlined />} onClick={onRemove} aria-label={t('rule.remove')} />
    </Space>
  );
}

export function GroupEditor({ group, tags, onChange, onRemove, depth = 0 }: { group: Group; tags: TagDef[]; onChange: (g: Group) => void; onRemove?: () => void; depth?: number }) {
  const { t } = useTranslation();
  const setChild = (i: number, n: Node | null) => {
    const children = [...group.children];
    if (n === null) children.splice(i, 1);
    else children[i] = n;
    onChange({ ...group, children });
  };
  const addCond = () => {
    const first = tags[0];
    const c: Cond = first ? defaultCond(first) : { type: 'cond', id: newId(), field: '', op: '=', values: [], not: false };
    onChange({ ...group, children: [...group.children, c] });
  };
  return (
    <Card
      size="small"
      style={{ borderLeft: `3px solid ${group.op === 'and' ? '#1677ff' : '#fa8c16'}`, marginTop: depth ? 8 : 0 }}
      data-testid={`group-${depth}`}
      title={
        <Space>
          <Checkbox checked={group.not} onChange={(e) => onChange({ ...group, not: e.target.checked })}>
            {t('rule.not')}
          </Checkbox>
          <Segmented
            size="small"
            value={group.op}
            options={[
              { value: 'and', label: t('rule.and') },
              { value: 'or', label: t('rule.or') },
            ]}
            onChange={(v) => onChange({ ...group, op: v as 'and' | 'or' })}
            data-testid="group-op"
          />
          <span style={{ fontWeight: 'normal', color: '#888' }}>{group.op === 'and' ? t('rule.allOf') : t('rule.anyOf')}</span>
        </Space>
      }
      extra={
        <Space>
          <Button size="small" icon={<PlusOutlined />} onClick={addCond} data-testid="add-cond">
            {t('rule.addCond')}
          </Button>
          <Button size="small" icon={<PlusOutlined />} onClick={() => onChange({ ...group, children: [...group.children, emptyGroup(group.op === 'and' ? 'or' : 'and')] })} data-testid="add-group">
            {t('rule.addGroup')}
          </Button>
          {onRemove && <Button size="small" danger type="text" icon={<DeleteOutlined />} onClick={onRemove} />}
        </Space>
      }
    >
      {group.children.length === 0 && <div style={{ color: '#999' }}>{depth === 0 ? t('rule.emptyRoot') : t('rule.emptyGroup')}</div>}
      {group.children.map((c, i) =>
        c.type === 'cond' ? (
          <CondEditor key={c.id} cond={c} tags={tags} onChange={(n) => setChild(i, n)} onRemove={() => setChild(i, null)} />
        ) : (
          <GroupEditor key={c.id} group={c} tags={tags} depth={depth + 1} onChange={(n) => setChild(i, n)} onRemove={() => setChild(i, null)} />
        ),
      )}
    </Card>
  );
}
