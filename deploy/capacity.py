"""The connection budget and capacity model of the deployed system (docs/capacity.md).

Every Lambda container keeps its own connection pool, and Lambda starts containers as load
grows: without a cap, a burst of purchases or a deep queue opens more connections than a small
RDS instance allows, and then every function fails at once ("Too many connections").

The cap, in three parts:
- one connection per container and database (inventory_core.config.LAMBDA_POOL: pool size 1,
  no overflow; a container serves one request or batch at a time, and no code path holds two);
- reserved concurrency per function (Zappa's `lambda_concurrency`, PutFunctionConcurrency):
  at most that many containers of the function run at once, so at most that many connections;
- ScalingConfig.MaximumConcurrency on each SQS mapping (set by deploy/callbacks.py): the
  mappings of a function together never ask for more than its reserved concurrency, so Lambda
  never throttles a poller (a throttled batch comes back later and counts toward the queue's
  maxReceiveCount: enough throttling would dead-letter healthy messages).

tests/infra/test_capacity.py checks that the sum stays under each database's max_connections,
with headroom, for the instance class Terraform creates.
"""
from __future__ import annotations

from inventory_core.topology import TOPOLOGY

# RDS for MySQL's default max_connections is {DBInstanceClassMemory/12582880} (RDS User Guide,
# "Maximum number of database connections"). DBInstanceClassMemory is the class's memory less
# what RDS keeps for the OS and its agents, so the real value is below this estimate.
MAX_CONNECTIONS_DIVISOR = 12_582_880
INSTANCE_MEMORY_GIB = {  # RDS instance classes (RDS User Guide, "DB instance classes")
    "db.t4g.micro": 1, "db.t4g.small": 2, "db.t4g.medium": 4, "db.t4g.large": 8,
    "db.t4g.xlarge": 16, "db.m7g.large": 8, "db.m7g.xlarge": 16, "db.r7g.large": 16,
    "db.r7g.xlarge": 32,
}
# The functions may use this share of max_connections. The rest: DBInstanceClassMemory being less
# than the class's memory, operators (mysql client, migrations, `deploy.tasks`), RDS's own
# monitoring sessions, and a replaced container's connection until wait_timeout closes it.
HEADROOM = 0.75

# At most this many containers of each function at once (Zappa: lambda_concurrency).
RESERVED_CONCURRENCY = {"shop": 40, "factory": 16, "consumers": 20}
# Which database each function's containers connect to (one connection each: LAMBDA_POOL).
# The consumers write to the shop database only; they reach the factory over its HTTP API.
DATABASES_OF = {"shop": ("shop",), "factory": ("factory",), "consumers": ("shop",)}
CONNECTIONS_PER_CONTAINER = 1  # inventory_core.config.LAMBDA_POOL.most (tested)

# ScalingConfig.MaximumConcurrency per SQS mapping (AWS: 2 to 1000). The restock path gets the
# most; notifications and the dead-letter queues (rare, nobody waits) AWS's minimum.
SQS_MINIMUM_CONCURRENCY = 2
QUEUE_MAXIMUM_CONCURRENCY = {"order": 5, "production": 4, "delivery": 5, "notification": 2}
DEAD_LETTER_MAXIMUM_CONCURRENCY = SQS_MINIMUM_CONCURRENCY


def max_connections(instance_class: str) -> int:
    """RDS for MySQL's default max_connections for the class (an upper estimate)."""
    try:
        memory = INSTANCE_MEMORY_GIB[instance_class] * 2**30
    except KeyError:
        raise ValueError(f"{instance_class}: add its memory to deploy.capacity."
                         "INSTANCE_MEMORY_GIB to check the connection budget") from None
    return memory // MAX_CONNECTIONS_DIVISOR


def connections_by_database() -> dict[str, int]:
    """The most connections the functions can open to each database at once."""
    total: dict[str, int] = {}
    for function, databases in DATABASES_OF.items():
        for database in databases:
            total[database] = (total.get(database, 0)
                               + RESERVED_CONCURRENCY[function] * CONNECTIONS_PER_CONTAINER)
    return total


def budget(instance_class: str) -> int:
    """How many connections the functions may open to one database of this class."""
    return int(max_connections(instance_class) * HEADROOM)


def mapping_concurrency(queue_key: str, dead_letter: bool = False) -> int:
    return DEAD_LETTER_MAXIMUM_CONCURRENCY if dead_letter else QUEUE_MAXIMUM_CONCURRENCY[queue_key]


def queue_keys() -> tuple[str, ...]:
    return tuple(q.key for q in TOPOLOGY.queues)
