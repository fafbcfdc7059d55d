"""The real servers, as `make tensorboard` and `make lab` start them, on 127.0.0.1.

TensorBoard reads the runs the notebooks wrote in this session (``notebook_runs``) and must
show, through its HTTP API, every lesson's runs with the tags ``tests/lessons.py`` promises,
and agree with ``helpers.board.read_run`` on every run on disk. JupyterLab, with a token,
lists the eight notebooks and starts a kernel of this environment that imports ``helpers``;
without the token it refuses. Both servers start together, on free ports, and are stopped
after the module.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from lessons import PROMISED

from helpers import board, config
from torchnn_tools import servers as commands

HOST = "127.0.0.1"
START_TIMEOUT = 90  # seconds: both servers start on a loaded machine
PNG = b"\x89PNG\r\n\x1a\n"
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def get(url: str, token: str | None = None, method: str = "GET", body: dict | None = None,
        timeout: float = 30):
    """``(status, body bytes)`` of one request; HTTP errors are answers, not exceptions."""
    headers = {"Authorization": f"token {token}"} if token else {}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _direct.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_for(check, what: str, proc: subprocess.Popen, log: Path, timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            result = check()
            if result:
                return result
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer within {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def servers(notebook_runs, tmp_path_factory):
    """Start TensorBoard and JupyterLab at once; ``{"board": url, "lab": (url, token)}``."""
    tmp = tmp_path_factory.mktemp("servers")
    board_port, lab_port, token = free_port(), free_port(), secrets.token_hex(16)
    board_log, lab_log = tmp / "tensorboard.log", tmp / "lab.log"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"))
    # The commands `make tensorboard` and `make lab` run (torchnn_tools.servers), on free ports.
    board_command = commands.tensorboard_command(board_port)
    assert board_command[board_command.index("--logdir") + 1] == str(notebook_runs)
    with open(board_log, "w") as out:
        tb = subprocess.Popen([*board_command, "--reload_interval", "1"],
                              stdout=out, stderr=subprocess.STDOUT, env=env)
    with open(lab_log, "w") as out:
        lab = subprocess.Popen(
            [*commands.lab_command(lab_port), "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={token}"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=config.project_root())
    try:
        board_url, lab_url = f"http://{HOST}:{board_port}", f"http://{HOST}:{lab_port}"
        wait_for(lambda: get(f"{board_url}/data/runs")[0] == 200, "TensorBoard", tb, board_log)
        wait_for(lambda: get(f"{lab_url}/api/status", token)[0] == 200, "JupyterLab", lab,
                 lab_log)
        yield {"board": board_url, "lab": (lab_url, token), "tensorboard": (tb, board_log)}
    finally:
        stop(tb)
        stop(lab)


def runs_on_disk(root: Path) -> dict[str, dict[str, list[str]]]:
    """``topic/run`` -> ``read_run`` tags of every lesson run folder under ``root``."""
    return {f"{e.parent.parent.name}/{e.parent.name}": board.read_run(e.parent)
            for e in sorted(root.glob("*/*/events.out.tfevents.*"))
            if e.parent.parent.name in board.TOPICS}


def board_json(url: str, path: str):
    status, body = get(url + path)
    assert status == 200, (path, status, body[:300])
    return json.loads(body)


def test_tensorboard_shows_every_lesson_run_and_its_promised_tags(servers, notebook_runs):
    url = servers["board"]
    disk = runs_on_disk(notebook_runs)
    expected = set(disk) | {f"{t}/{r}" for t, runs in PROMISED.items() for r in runs}
    assert expected, "no lesson runs on disk"
    # TensorBoard loads runs in the background: wait until it lists them all.
    wait_for(lambda: expected <= set(board_json(url, "/data/runs")), "TensorBoard's run list",
             *servers["tensorboard"])
    scalars = board_json(url, "/data/plugin/scalars/tags")
    images = board_json(url, "/data/plugin/images/tags")
    histograms = board_json(url, "/data/plugin/histograms/tags")
    graphs = board_json(url, "/data/plugin/graphs/info")

    def served(run: str) -> dict:
        return {"images": sorted(images.get(run, {})), "scalars": sorted(scalars.get(run, {})),
                "histograms": sorted(histograms.get(run, {})),
                "graph": ["graph"] if graphs.get(run, {}).get("run_graph") else []}

    topics_seen = {run.split("/")[0] for run in board_json(url, "/data/runs")}
    assert set(PROMISED) <= topics_seen
    for topic, runs in PROMISED.items():
        for run, promised in runs.items():
            name, got = f"{topic}/{run}", served(f"{topic}/{run}")
            for kind in ("images", "scalars", "histograms"):
                assert got[kind] == sorted(promised.get(kind, [])), (name, kind)
            assert bool(got["graph"]) == promised.get("graph", False), (name, "graph")
    for name, tags in disk.items():  # TensorBoard and our own reader agree on every run
        assert served(name) == tags, name

    run, tag = next((r, t) for r, tags in sorted(images.items()) for t in sorted(tags))
    query = urllib.parse.urlencode({"run": run, "tag": tag, "sample": 0})
    first = board_json(url, f"/data/plugin/images/images?{query}")[0]
    status, png = get(f"{url}/data/plugin/images/individualImage?{first['query']}")
    assert status == 200 and png.startswith(PNG), (run, tag, png[:16])


def test_jupyterlab_lists_the_notebooks_and_runs_a_project_kernel(servers):
    url, token = servers["lab"]
    status, _ = get(f"{url}/api/contents")
    assert status == 403  # no token, no access
    assert get(f"{url}/api/kernels", "wrong-" + token)[0] == 403

    status, body = get(f"{url}/api/contents/notebooks", token)
    assert status == 200
    listed = {item["name"] for item in json.loads(body)["content"] if item["type"] == "notebook"}
    assert {f"{stem}.ipynb" for stem in board.LESSONS} <= listed
    status, body = get(f"{url}/api/contents", token)  # the project: runs/notebooks/ is in reach
    assert status == 200 and {"notebooks", "runs"} <= {
        item["name"] for item in json.loads(body)["content"]}

    status, body = get(f"{url}/api/kernels", token, "POST", {"name": "python3"})
    assert status == 201, body
    kernel = json.loads(body)["id"]
    try:
        output = execute(url, token, kernel, "import sys, helpers\n"
                         "print(helpers.__file__)\nprint(sys.prefix)")
    finally:
        status, _ = get(f"{url}/api/kernels/{kernel}", token, "DELETE")
    assert status == 204
    helpers_file, prefix = output.split()
    assert Path(helpers_file).resolve() == config.project_root() / "helpers" / "__init__.py"
    assert Path(prefix).resolve() == Path(sys.prefix).resolve()
    kernels = json.loads(get(f"{url}/api/kernels", token)[1])
    assert kernel not in {k["id"] for k in kernels}


def execute(url: str, token: str, kernel: str, code: str, timeout: float = 120) -> str:
    """Run ``code`` in a kernel over the server's websocket, as JupyterLab does; its stdout."""
    import websocket

    ws_url = url.replace("http://", "ws://") + f"/api/kernels/{kernel}/channels"
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"],
                                     timeout=timeout)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        stdout, reply = [], None
        deadline = time.monotonic() + timeout
        while reply is None or not stdout:
            assert time.monotonic() < deadline, "the kernel did not answer"
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "stream" and msg["content"]["name"] == "stdout":
                stdout.append(msg["content"]["text"])
            elif kind == "error":
                pytest.fail("kernel error: " + " ".join(msg["content"]["traceback"])[-2000:])
            elif kind == "execute_reply":
                reply = msg["content"]
                assert reply["status"] == "ok", reply
        return "".join(stdout)
    finally:
        ws.close()
