import type { Prize } from './prizes';

/** GET /v1/h5/activities/{id}. */
export interface ActivityStatus {
  id: number;
  name: string;
  description: string;
  title: string;
  template: string;
  theme: string;
  start: string;
  end: string;
  points_cost: number;
  chances_left: number | null;
  status: string;
  detail?: string;
  settings?: Record<string, unknown>;
  prizes: Prize[];
  /** A staff preview token: the latest (maybe draft) version; draws are refused. */
  preview?: boolean;
  version?: number;
}

export interface ActivityItem {
  id: number;
  name: string;
  title: string;
  template: string;
  chances_left: number | null;
  end: string;
}
