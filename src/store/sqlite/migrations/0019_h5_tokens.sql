-- Migration 0019 was assigned to the H5 pages (issue 7). Their customer tokens are sealed and
-- stateless (auth/customer_token.h, docs/h5.md): nothing is stored per token, so this
-- migration changes nothing; it keeps the version sequence without a gap.
SELECT 1;
