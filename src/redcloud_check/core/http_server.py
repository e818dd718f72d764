"""A uvicorn server that stops at once when told to, from any thread.

uvicorn checks `should_exit` every 0.1 s; the suite stops two servers (the simulator and
the webhook listener) at the end of every run, so that poll alone cost up to 0.2 s of a
~1.2 s run. `request_exit()` wakes the main loop immediately, and `shutdown()` drains
connections as soon as they close instead of uvicorn's fixed 0.1 s grace sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import uvicorn


class PromptServer(uvicorn.Server):
    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self.should_exit:  # asked to stop before the loop was running
            return
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            # Wake at the next tick (the Date header is per second) or at once on exit.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown steps, with the drain paced at 5 ms instead of 100 ms."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or 0)
        while ((self.server_state.connections or self.server_state.tasks)
               and not self.force_exit and time.monotonic() < deadline):
            await asyncio.sleep(0.005)
        for task in self.server_state.tasks:  # past the graceful timeout
            task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()

    def request_exit(self) -> None:
        """Stop serving (thread-safe); returns at once, the server thread winds down."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)
