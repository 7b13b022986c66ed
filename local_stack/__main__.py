"""`python -m local_stack` (`make run`): the whole system on this machine.

See local_stack.supervisor."""
import sys

from local_stack.supervisor import main

if __name__ == "__main__":
    sys.exit(main())
