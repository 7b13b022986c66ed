"""Zappa's handler called as Lambda calls it, from an unpacked package: a fresh interpreter
(`-I -S -B`: no site-packages, writes no bytecode, as /var/task is read-only), the package and
Lambda's own runtime libraries on the path, one event. It prints, as its last line, the answer,
the modules loaded from outside the package and the runtime, and the package's modules it had to
compile from source (none, when the zip carries their bytecode: deploy/bytecode.py). Used by
tests/deploy/test_package.py and bench/lambda_coldstart.py."""
from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

HANDLER_RUN = textwrap.dedent("""
    import json, os, sys
    import importlib._bootstrap_external as bootstrap
    task_root, runtime_dir, event = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    # Every module imported without usable bytecode goes through SourceLoader.source_to_code.
    from_source, to_code = [], bootstrap.SourceLoader.source_to_code
    def counting_source_to_code(self, data, path, *args, **kwargs):
        from_source.append(path)
        return to_code(self, data, path, *args, **kwargs)
    bootstrap.SourceLoader.source_to_code = counting_source_to_code
    sys.path[:0] = [task_root, runtime_dir]
    os.chdir(task_root)
    import handler
    class Context:
        function_name = "clean-interpreter"
        def get_remaining_time_in_millis(self):
            return 10000
    answer = handler.lambda_handler(event, Context())
    outside = sorted({m.split(".")[0] for m, mod in sys.modules.items()
                      if getattr(mod, "__file__", None)
                      and not mod.__file__.startswith((task_root, runtime_dir, sys.base_prefix))})
    print(json.dumps({"answer": answer, "outside": outside, "modules": len(sys.modules),
                      "from_source": [p for p in from_source if p.startswith(task_root)]},
                     default=str))
""")


def run_handler(python: str | Path, task_root: Path, runtime_dir: Path, event: dict,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "ap-northeast-2",
               "LAMBDA_TASK_ROOT": str(task_root), "HOME": str(task_root)}
    return subprocess.run([str(python), "-I", "-S", "-B", "-c", HANDLER_RUN, str(task_root),
                           str(runtime_dir), json.dumps(event)],
                          env=environ, capture_output=True, text=True, timeout=timeout)


def outcome(done: subprocess.CompletedProcess[str]) -> dict:
    """The last line HANDLER_RUN printed: answer, outside, modules, from_source."""
    return json.loads(done.stdout.strip().splitlines()[-1])
