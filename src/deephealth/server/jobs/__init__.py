"""Jobs: the database is the queue (`queue`), worker processes run what they claim (`worker`),
`deephealth serve` starts and watches them (`supervisor`), trainings go through the pipelines run
API or the distributed launcher (`launcher`), and progress is stored as events (`events`)."""

TERMINAL = ("finished", "failed", "cancelled", "interrupted")
