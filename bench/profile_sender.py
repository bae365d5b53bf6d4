"""Where the sender thread's time goes: one host run with pyinstrument on the sender thread.

    .venv/bin/pip install pyinstrument
    .venv/bin/python bench/profile_sender.py [run|paced|throughput] [EVENTS] [--sink]

A development aid for the misses the benchmark reports (not part of ``bench/run.py``): the
host (bench/hosts/ours_host.py) runs against the local collector, or with ``--sink`` against a
server that answers at once; the profile of ``tracking._sender.Sender._run`` is printed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

_WRAPPER = r'''
import runpy, sys
sys.path.insert(0, {hosts!r})
from pyinstrument import Profiler
import tracking._sender as sender

run, close = sender.Sender._run, sender.Sender.close

def profiled_run(self):
    profiler = Profiler(interval=0.0005)
    profiler.start()
    try:
        run(self)
    finally:
        profiler.stop()
        with open({out!r}, "w") as fh:
            fh.write(profiler.output_text(unicode=False, color=False))

def joined_close(self, deadline):
    ok = close(self, deadline)
    if self._thread is not None:
        self._thread.join(10)  # let the profile be written before the process ends
    return ok

sender.Sender._run, sender.Sender.close = profiled_run, joined_close
sys.argv = ["ours_host.py", *sys.argv[1:]]
runpy.run_path({host!r}, run_name="__main__")
'''


def main(argv: list[str]) -> int:
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        print("pyinstrument is not installed: pip install pyinstrument", file=sys.stderr)
        return 2
    from measure import make_world
    from scenarios import HOSTS, _acknowledge_notice
    from servers import CollectorProcess, Sink

    args = [a for a in argv if not a.startswith("--")]
    mode = args[0] if args else "run"
    events = args[1] if len(args) > 1 else "500"
    server = Sink() if "--sink" in argv else CollectorProcess()
    scratch = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    out, wrapper = scratch / "profile.txt", scratch / "wrapper.py"
    wrapper.write_text(_WRAPPER.format(hosts=str(HOSTS), out=str(out),
                                       host=str(HOSTS / "ours_host.py")))
    world = make_world()
    _acknowledge_notice(world)
    try:
        subprocess.run([sys.executable, str(wrapper), mode, events, server.url], env=world.env,
                       cwd=world.cwd, check=True, stdout=subprocess.DEVNULL, timeout=300)
    finally:
        server.stop()
        world.remove()
    print(out.read_text() if out.exists() else "no profile was written", end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
