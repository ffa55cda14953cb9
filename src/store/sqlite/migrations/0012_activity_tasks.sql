-- What customers do in non-lottery activities and activity tasks (store/participation_repository.h):
-- daily sign-ins (签到) with their streak, quiz attempts, and task completions that earn extra
-- draw chances. Days are the activity's local days (Unix day numbers after the activity's
-- timezone offset). Each table's unique constraints are the rules the service relies on:
-- one sign-in per customer per day, one rewarded quiz pass per customer, one credit per task
-- per period, and one answer per idempotency key.

CREATE TABLE activity_sign_ins (
  activity_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  day INTEGER NOT NULL,
  make_up INTEGER NOT NULL DEFAULT 0 CHECK (make_up IN (0, 1)),
  streak INTEGER NOT NULL CHECK (streak >= 1),
  reward_json TEXT NOT NULL DEFAULT '',
  reward_state TEXT NOT NULL DEFAULT 'none' CHECK (reward_state IN ('none', 'pending', 'granted')),
  reward_note TEXT NOT NULL DEFAULT '',
  points_spent INTEGER NOT NULL DEFAULT 0,
  idempotency_key TEXT NOT NULL,
  request_digest TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (activity_id, uid, day),
  UNIQUE (activity_id, uid, idempotency_key)
) WITHOUT ROWID;
CREATE INDEX activity_sign_ins_by_day ON activity_sign_ins (activity_id, day);
CREATE INDEX activity_sign_ins_pending ON activity_sign_ins (reward_state)
  WHERE reward_state = 'pending';

CREATE TABLE activity_quiz_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  activity_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  day INTEGER NOT NULL,
  score INTEGER NOT NULL,
  passed INTEGER NOT NULL CHECK (passed IN (0, 1)),
  rewarded INTEGER NOT NULL DEFAULT 0 CHECK (rewarded IN (0, 1) AND (rewarded = 0 OR passed = 1)),
  reward_json TEXT NOT NULL DEFAULT '',
  reward_state TEXT NOT NULL DEFAULT 'none' CHECK (reward_state IN ('none', 'pending', 'granted')),
  reward_note TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT NOT NULL,
  request_digest TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  UNIQUE (activity_id, uid, idempotency_key)
);
CREATE INDEX activity_quiz_attempts_by_day ON activity_quiz_attempts (activity_id, uid, day);
-- The reward goes to the first pass only.
CREATE UNIQUE INDEX activity_quiz_attempts_one_reward ON activity_quiz_attempts (activity_id, uid)
  WHERE rewarded = 1;
CREATE INDEX activity_quiz_attempts_pending ON activity_quiz_attempts (reward_state)
  WHERE reward_state = 'pending';

-- period: the local day of the completion for daily tasks, 0 for tasks done once.
-- credit_day: the local day whose draw chances the completion raises.
CREATE TABLE activity_task_completions (
  activity_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  period INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  extra_chances INTEGER NOT NULL CHECK (extra_chances > 0),
  credit_day INTEGER NOT NULL,
  occurred_ms INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (activity_id, uid, task_id, period),
  UNIQUE (activity_id, uid, task_id, event_id)
) WITHOUT ROWID;
CREATE INDEX activity_task_completions_by_day
  ON activity_task_completions (activity_id, uid, credit_day);
