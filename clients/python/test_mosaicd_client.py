"""Tests of mosaicd_client against a real daemon.

Run by test/clients/python-client.test.ts, which starts the daemon and passes:

    MOSAICD_CLIENT_TEST_PORT           the daemon's request port
    MOSAICD_CLIENT_TEST_CALLBACK_PORT  its completion listener port
    MOSAICD_CLIENT_TEST_TILES_DIR      its tiles folder
    MOSAICD_CLIENT_TEST_TEXT_PNG       a PNG with a line of text
    MOSAICD_CLIENT_TEST_NODE / _BIN    node and bin/mosaicd.js, to spawn `mosaicd stdio`
    MOSAICD_CLIENT_TEST_STDIO_TILES_DIR, _SINK_PORT   the stdio child's tiles and callback port

Without MOSAICD_CLIENT_TEST_PORT only the tests that need no daemon run.
The daemon is not stopped here (the map example does that afterwards).
"""

import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mosaicd_client import (  # noqa: E402
    CompletionListener,
    FramedClient,
    FramedResponse,
    MosaicdError,
    NoticeKind,
    TileClient,
    normalize_tile_name,
    parse_notice,
    png_size,
    read_exact,
    tile_name,
)

ENV = os.environ
PORT = int(ENV["MOSAICD_CLIENT_TEST_PORT"]) if "MOSAICD_CLIENT_TEST_PORT" in ENV else None
needs_daemon = unittest.skipIf(PORT is None, "MOSAICD_CLIENT_TEST_PORT is not set (run through npm test)")


def assert_png_256(test: unittest.TestCase, png: bytes, what: str) -> None:
    test.assertEqual(png_size(png), (256, 256), f"{what} is a 256x256 PNG")


class OfflineTests(unittest.TestCase):
    """No daemon needed."""

    def test_parse_notice(self) -> None:
        n = parse_notice("error 3_9_0 outside the grid")
        self.assertEqual((n.kind, n.name, n.reason), (NoticeKind.ERROR, "3_9_0", "outside the grid"))
        self.assertIs(parse_notice("done").kind, NoticeKind.DONE)
        t = parse_notice("4_8_5\r")
        self.assertEqual((t.kind, t.name), (NoticeKind.TILE, "4_8_5"))
        self.assertEqual(normalize_tile_name("2/1/1"), "2_1_1")
        self.assertEqual(tile_name(16, 58001, 25480), "16_58001_25480")

    def test_read_exact_loops_over_short_reads(self) -> None:
        data = bytearray(b"abcdefghij")

        def read(n: int) -> bytes:  # never more than 3 bytes at a time
            chunk = bytes(data[: min(n, 3)])
            del data[: len(chunk)]
            return chunk

        self.assertEqual(read_exact(read, 7), b"abcdefg")
        with self.assertRaises(EOFError):
            read_exact(read, 7)
        self.assertIsNone(read_exact(lambda n: b"", 8, allow_eof=True))

    def test_response_parsing(self) -> None:
        r = FramedResponse.from_wire(
            '{"success":true,"request_id":"x","result_count":1,"results":[{"result_index":0,"class_name":"A","score":1,'
            '"camera_number":null,"image_index":0,"image_format":"png","image_length":3,"image_width":1,"image_height":1,'
            '"image_mode":"L","box":[1,2]}],"error":null}',
            [b"png"],
        )
        self.assertTrue(r.success)
        self.assertEqual(r.request_id, "x")
        self.assertEqual(r.results[0].png, b"png")
        self.assertIsNone(r.results[0].camera_number)
        self.assertEqual(r.results[0].score, 1.0)
        self.assertEqual(r.results[0].fields["box"], [1, 2])
        bad = FramedResponse.from_wire('{"success":false,"request_id":1,"result_count":0,"results":[],"error":{"code":"BUSY","message":"m"}}', [])
        with self.assertRaises(MosaicdError) as cm:
            bad.ensure_success()
        self.assertEqual(cm.exception.code, "BUSY")

    def test_listener_lines_across_reads(self) -> None:
        seen = []
        with CompletionListener(0, on_notice=lambda n: seen.append(n.line)) as listener:
            with socket.create_connection(("127.0.0.1", listener.port)) as c:
                for part in (b"1_0_0\n2_", b"0_0\r\n", b"error 3_9_0 bad", b" tile\n3_0_0"):
                    c.sendall(part)
                c.shutdown(socket.SHUT_WR)
                got = listener.wait_for(["1_0_0", "2_0_0", "3_9_0", "3_0_0"], timeout=10)
            self.assertEqual(got[2].reason, "bad tile")
        self.assertEqual(seen, ["1_0_0", "2_0_0", "error 3_9_0 bad tile", "3_0_0"])

    def test_listener_persistent_connection(self) -> None:
        with CompletionListener(0) as listener:
            with socket.create_connection(("127.0.0.1", listener.port)) as c:
                c.sendall(b"5_0_0\n")
                listener.wait_for(["5_0_0"], timeout=10)  # while the connection stays open
                c.sendall(b"5_1_0\ndone\n")
                listener.wait_for(["5_1_0"], timeout=10)
                listener.wait_for_done(timeout=10)

    def test_listener_restarts_on_the_same_port(self) -> None:
        first = CompletionListener(0).start()
        port = first.port
        # The listener closes this connection while it is open (close()),
        # leaving TIME_WAIT on its port: what broke the original listener.
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"9_0_0\n")
        first.wait_for(["9_0_0"], timeout=10)
        first.close()
        c.close()
        with CompletionListener(port) as second:
            self.assertEqual(second.port, port)
            with socket.create_connection(("127.0.0.1", port)) as c2:
                c2.sendall(b"9_1_0")
                c2.shutdown(socket.SHUT_WR)
                second.wait_for(["9_1_0"], timeout=10)


    def test_second_listener_on_a_live_port_is_refused(self) -> None:
        with CompletionListener(0) as first:
            with self.assertRaises(OSError):
                CompletionListener(first.port).start().close()


@needs_daemon
class LineProtocolTests(unittest.TestCase):
    def setUp(self) -> None:
        self.client = TileClient("127.0.0.1", PORT)
        self.tiles_dir = ENV["MOSAICD_CLIENT_TEST_TILES_DIR"]

    def test_ping_and_stats(self) -> None:
        self.assertTrue(self.client.ping())
        self.assertIn("tiles", self.client.stats())

    def test_tiles_barrier_notices_and_listener_restart(self) -> None:
        callback_port = int(ENV["MOSAICD_CLIENT_TEST_CALLBACK_PORT"])
        with CompletionListener(callback_port) as listener:
            self.client.viewport(5, 10, 12, 11, 12)
            self.client.request(["5_10_12", "5/11/12", "5_99_0"], barrier=True)
            for name in ("5_10_12", "5_11_12"):
                with open(os.path.join(self.tiles_dir, name + ".png"), "rb") as f:
                    assert_png_256(self, f.read(), name)
            got = listener.wait_for(["5_10_12", "5/11/12", "5_99_0"], timeout=30)
            self.assertEqual([n.kind for n in got], [NoticeKind.TILE, NoticeKind.TILE, NoticeKind.ERROR])
            self.assertEqual(got[1].name, "5_11_12")
            self.assertTrue(got[2].reason)

            names = [tile_name(7, 40 + x, 50 + y) for x in range(5) for y in range(4)]
            self.client.request(names, barrier=True)
            self.assertEqual(len(listener.wait_for(names, timeout=30)), 20)
            self.client.cancel("8_1_1")
        # Listen again on the same port at once.
        with CompletionListener(callback_port) as listener:
            self.client.request(["6_20_24"], barrier=True)
            self.assertIs(listener.wait_for(["6_20_24"], timeout=30)[0].kind, NoticeKind.TILE)


class _FramedChecks:
    """Shared by the TCP and the stdio test cases."""

    client: FramedClient

    def test_render(self) -> None:
        r = self.client.render("3_4_2", request_id="tile-1")
        self.assertTrue(r.success, r.json)
        self.assertEqual(r.request_id, "tile-1")
        self.assertEqual((len(r.results), len(r.images)), (1, 1))
        res = r.results[0]
        self.assertEqual(res.class_name, "3_4_2")
        self.assertEqual(res.image_length, len(res.png))
        self.assertIsNone(res.camera_number)
        assert_png_256(self, res.png, "the tile")

    def test_ping_and_stats(self) -> None:
        p = self.client.ping()
        self.assertTrue(p.success)
        self.assertIs(p.get("pong"), True)
        self.assertIsInstance(p.request_id, int)
        s = self.client.stats()
        self.assertTrue(s.success)
        self.assertIsInstance(s.get("stats"), dict)

    def test_pipelined_boolean_camera_is_protocol_error_and_stream_stays_in_sync(self) -> None:
        with open(ENV["MOSAICD_CLIENT_TEST_TEXT_PNG"], "rb") as f:
            png = f.read()
        futures = [
            self.client.submit('{"command":"ping","request_id":"a"}'),
            self.client.submit('{"command":"process","request_id":7,"camera_number":true}', png),
            self.client.submit_render("4_8_5", request_id="c"),
            self.client.submit({"command": "ping", "request_id": "\u00fc-\U0001F600"}),
        ]
        a, bad, c, d = (f.result(60) for f in futures)
        self.assertEqual(a.request_id, "a")
        self.assertFalse(bad.success)
        self.assertEqual(bad.request_id, 7)
        self.assertEqual(bad.error.code, "PROTOCOL_ERROR")
        self.assertEqual(bad.images, [])
        self.assertTrue(c.success)
        self.assertEqual(c.request_id, "c")
        assert_png_256(self, c.results[0].png, "4_8_5")
        self.assertEqual(d.request_id, "\u00fc-\U0001F600")

    def test_process_text_image(self) -> None:
        with open(ENV["MOSAICD_CLIENT_TEST_TEXT_PNG"], "rb") as f:
            r = self.client.process(f.read(), camera=0, request_id=1001)
        self.assertEqual(r.request_id, 1001)
        if not r.success:
            self.skipTest(f"inference is not available in this daemon: {r.error.code} {r.error.message}")
        self.assertGreaterEqual(len(r.results), 1)
        for res in r.results:
            self.assertTrue(res.class_name)
            self.assertEqual(png_size(res.png), (res.image_width, res.image_height))
            self.assertEqual(res.camera_number, 0)
        print(f"# process: {', '.join(f'{x.class_name} {x.score:.3f}' for x in r.results)}", file=sys.stderr)


@needs_daemon
class FramedTcpTests(_FramedChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.client = FramedClient.connect("127.0.0.1", PORT)
        cls.client.timeout = 60

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.dispose()

    def test_viewport(self) -> None:
        self.assertTrue(self.client.viewport(4, 2, 2, 3, 3).success)


def _spawn_stdio(log: list) -> FramedClient:
    args = [ENV["MOSAICD_CLIENT_TEST_NODE"], ENV["MOSAICD_CLIENT_TEST_BIN"], "stdio",
            "--tiles-dir", ENV["MOSAICD_CLIENT_TEST_STDIO_TILES_DIR"],
            "--callback-port", ENV["MOSAICD_CLIENT_TEST_SINK_PORT"], "--log-level", "warn"]
    client = FramedClient.spawn(args, stderr=log.append)
    client.timeout = 60
    return client


@needs_daemon
class FramedStdioTests(_FramedChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.log: list = []
        cls.client = _spawn_stdio(cls.log)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.dispose()
        if cls.log:
            print("stdio child stderr:\n" + "\n".join(cls.log), file=sys.stderr)

    def test_zz_shutdown_then_exit_0(self) -> None:  # runs last in this class
        r = self.client.shutdown()
        self.assertTrue(r.success)
        self.assertIs(r.get("shutdown"), True)
        self.assertEqual(self.client.wait(30), 0)
        with self.assertRaises(ConnectionError):
            self.client.ping()


@needs_daemon
class StdioEofTests(unittest.TestCase):
    def test_eof_on_stdin_ends_the_child_with_0(self) -> None:
        log: list = []
        with _spawn_stdio(log) as client:
            self.assertTrue(client.ping().success)
            client.close()
            self.assertEqual(client.wait(30), 0, "\n".join(log))


def load_tests(loader: unittest.TestLoader, standard_tests: unittest.TestSuite, pattern: object) -> unittest.TestSuite:
    # In this order: the TCP tests render the tiles the stdio children (which
    # share the daemon's tiles folder) then read from the cache.
    suite = unittest.TestSuite()
    for case in (OfflineTests, LineProtocolTests, FramedTcpTests, FramedStdioTests, StdioEofTests):
        suite.addTests(loader.loadTestsFromTestCase(case))
    return suite


if __name__ == "__main__":
    unittest.main()
