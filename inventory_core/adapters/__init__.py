"""What talks to the outside world: the databases (SQLAlchemy models, Alembic migrations,
engines and sessions, the outbox and processed-event tables) and the message brokers (boto3 for
SNS, SQS and SES). The domain never imports these; the service layer does."""
