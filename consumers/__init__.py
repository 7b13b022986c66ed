"""Lambda functions `handler(event, context)` bound to SQS queues (Zappa event sources).

Each consumer is a record handler plus `batch.handle_batch`, which answers Lambda's partial batch
response so one bad message never makes the good ones in its batch run again."""
