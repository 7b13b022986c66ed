"""`python -m localstack` (`make run`): the whole system on this machine. See localstack.supervisor."""
import sys

from localstack.supervisor import main

if __name__ == "__main__":
    sys.exit(main())
