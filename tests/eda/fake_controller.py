"""The few AWX / Automation Controller API v2 endpoints ansible-rulebook's run_job_template uses,
over real HTTP: find a job template by name, launch it, poll the job. Every launch is recorded
(template name and request body) and its job reports `successful` at once."""
import asyncio
import json
import socket
import threading

from aiohttp import web


class FakeController:
    def __init__(self, templates, organization="Default", token="controller-token"):
        self.templates = dict((name, index + 1) for index, name in enumerate(templates))
        self.organization = organization
        self.token = token
        self.launches = []          # (template name, launch body), in order
        self._lock = threading.Lock()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._loop = None
        self._thread = None

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.port

    def launched(self):
        with self._lock:
            return list(self.launches)

    # ---- API ------------------------------------------------------------------------------
    def _authorized(self, request):
        return request.headers.get("Authorization") == "Bearer " + self.token

    async def config(self, request):
        if not self._authorized(request):
            return web.json_response({"detail": "Authentication credentials were not provided."}, status=401)
        return web.json_response({"version": "24.6.1"})

    async def templates_by_name(self, request):
        name = request.query.get("name")
        results = []
        if name in self.templates:
            tid = self.templates[name]
            results.append({
                "id": tid, "type": "job_template", "name": name,
                "summary_fields": {"organization": {"name": self.organization}},
                "related": {"launch": "/api/v2/job_templates/%d/launch/" % tid},
                "ask_limit_on_launch": True, "ask_labels_on_launch": False,
                "ask_inventory_on_launch": False, "ask_variables_on_launch": True,
            })
        return web.json_response({"count": len(results), "next": None, "results": results})

    async def launch(self, request):
        tid = int(request.match_info["tid"])
        name = next(n for n, i in self.templates.items() if i == tid)
        body = json.loads(await request.text())
        with self._lock:
            self.launches.append((name, body))
            job = len(self.launches)
        return web.json_response({"id": job, "job": job, "url": "/api/v2/jobs/%d/" % job}, status=201)

    async def jobs(self, request):
        ids = [int(i) for i in request.query.get("id__in", "").split(",") if i]
        return web.json_response({"count": len(ids), "next": None, "results": [
            {"id": i, "status": "successful", "url": "/api/v2/jobs/%d/" % i, "artifacts": {},
             "created": "2026-01-01T00:00:00.000000Z", "finished": "2026-01-01T00:00:01.000000Z"} for i in ids]})

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self):
        ready = threading.Event()

        def run():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            app = web.Application()
            app.router.add_get("/api/v2/config/", self.config)
            app.router.add_get("/api/v2/unified_job_templates/", self.templates_by_name)
            app.router.add_post("/api/v2/job_templates/{tid}/launch/", self.launch)
            app.router.add_get("/api/v2/jobs/", self.jobs)
            runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-controller", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self):
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None
