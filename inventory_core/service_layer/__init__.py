"""The use cases. Each takes a UnitOfWork, does its work in one transaction shaped
`with uow: ...; uow.commit()`, and leaves publishing to the outbox."""
