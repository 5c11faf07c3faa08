#!/usr/bin/env python3
"""A tirex rendering backend in plain Python (standard library only).

It speaks the backend side of tirex's protocol, so it runs under tirex's own
backend manager and under mosaicd alike:

* start-up: everything comes from the environment the manager sets
  (TIREX_BACKEND_NAME, _PORT, _MAP_CONFIGS, _ALIVE_TIMEOUT, _PIPE_FILENO,
  _SOCKET_FILENO or none, _DEBUG, TIREX_BACKEND_CFG_<key>). A configuration
  it cannot use ends the process with exit code 10 ("disable this renderer").
* before waiting for each request, and at least every ALIVE_TIMEOUT seconds
  while idle, it writes a byte to the alive pipe;
* a request is one UDP datagram of key=value lines (type, id, map, prio,
  x, y, z: the metatile's top-left tile); it writes the metatile file into
  the map's tiledir and answers with the request's fields plus result=ok,
  metatile=<path>, render_time=<ms>, or result=error and errmsg=<why>;
* SIGHUP / SIGTERM: finish the request in hand, then exit with code 9.

What it draws: each tile is a checkerboard of its own colour (see
tile_colour) and white, so a wrong tile is easy to spot. Replace
draw_tile() with your own drawing and keep the rest.
"""
import os
import select
import signal
import socket
import struct
import sys
import time
import zlib

EXIT_CODE_RESTART = 9
EXIT_CODE_DISABLE = 10
MAX_DATAGRAM = 4096

DEBUG = 'TIREX_BACKEND_DEBUG' in os.environ


def log(message):
    if DEBUG:
        sys.stderr.write('simple_backend[%d]: %s\n' % (os.getpid(), message))
        sys.stderr.flush()


def disable(message):
    """A configuration error: the manager will not restart us."""
    sys.stderr.write('simple_backend: %s\n' % message)
    sys.exit(EXIT_CODE_DISABLE)


class RenderError(Exception):
    """A render that failed: answered with result=error and errmsg."""


# --- map configuration --------------------------------------------------------

def read_conf(path):
    conf = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if '=' in line:
                key, value = line.split('=', 1)
                conf[key.strip()] = value.strip()
    return conf


def load_maps(paths):
    maps = {}
    for path in paths:
        conf = read_conf(path)
        for key in ('name', 'tiledir'):
            if not conf.get(key):
                raise ValueError('%s: missing %s' % (path, key))
        if not os.path.isdir(conf['tiledir']):
            raise ValueError('%s: tiledir %s is not a folder' % (path, conf['tiledir']))
        conf['minz'] = int(conf.get('minz', 0))
        conf['maxz'] = int(conf.get('maxz', 17))
        conf['tilesize'] = int(conf.get('tilesize', 256))
        conf['metarowscols'] = int(conf.get('metarowscols', 8))
        maps[conf['name']] = conf
    return maps


# --- drawing -----------------------------------------------------------------

def tile_colour(z, x, y):
    """The tile's own colour: a function of its coordinates only."""
    return ((x * 67 + z * 29) % 200 + 40, (y * 89 + z * 53) % 200 + 40, ((x + y) * 41 + z * 97) % 200 + 40)


def png_rgb(width, height, rows):
    """An 8-bit RGB PNG from `height` rows of width*3 bytes."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack('>I', len(data)) + body + struct.pack('>I', zlib.crc32(body) & 0xffffffff)
    raw = b''.join(b'\x00' + row for row in rows)
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b'')


def draw_tile(mapconf, z, x, y):
    size = mapconf['tilesize']
    square = max(1, size // 8)
    colour = bytes(tile_colour(z, x, y))
    white = b'\xff\xff\xff'
    row_a = b''.join((colour if (i // square) % 2 == 0 else white) for i in range(size))
    row_b = b''.join((white if (i // square) % 2 == 0 else colour) for i in range(size))
    return png_rgb(size, size, [row_a if (j // square) % 2 == 0 else row_b for j in range(size)])


# --- metatile files ------------------------------------------------------------

def metatile_path(tiledir, z, x, y):
    """TILEDIR/Z/a/b/c/d/e.meta, as tirex and mod_tile name them."""
    parts = []
    for _ in range(5):
        parts.insert(0, str(((x & 0x0f) << 4) | (y & 0x0f)))
        x >>= 4
        y >>= 4
    return os.path.join(tiledir, str(z), *parts[:4]) + '/' + parts[4] + '.meta'


def write_metatile(path, z, x, y, n, pngs):
    """pngs: {(dx, dy): bytes}; entry (dx, dy) is dx * n + dy; missing tiles get (0, 0)."""
    index = b''
    data = b''
    offset = 20 + n * n * 8
    for dx in range(n):
        for dy in range(n):
            png = pngs.get((dx, dy), b'')
            index += struct.pack('<ii', offset if png else 0, len(png))
            data += png
            offset += len(png)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = '%s.%d.tmp' % (path, os.getpid())
    with open(tmp, 'wb') as f:
        f.write(b'META' + struct.pack('<iiii', n * n, x, y, z) + index + data)
    os.replace(tmp, path)  # readers never see half a file


def render_metatile(mapconf, z, x, y):
    """Draws the metatile whose top-left tile is x, y; writes its file; returns the path."""
    n = mapconf['metarowscols']
    if not mapconf['minz'] <= z <= mapconf['maxz']:
        raise RenderError('zoom %d is outside map %s (%d..%d)' % (z, mapconf['name'], mapconf['minz'], mapconf['maxz']))
    if x % n or y % n or x < 0 or y < 0 or x >= 2 ** z or y >= 2 ** z:
        raise RenderError('%d/%d/%d is not the top-left tile of a metatile' % (z, x, y))
    side = min(n, 2 ** z)
    pngs = {(dx, dy): draw_tile(mapconf, z, x + dx, y + dy) for dx in range(side) for dy in range(side)}
    path = metatile_path(mapconf['tiledir'], z, x, y)
    write_metatile(path, z, x, y, n, pngs)
    return path


# --- the protocol --------------------------------------------------------------

def parse_message(data):
    fields = {}
    for line in data.decode('latin-1').split('\n'):
        if '=' in line:
            key, value = line.split('=', 1)
            fields[key] = value
    return fields


def format_message(fields):
    return ''.join('%s=%s\n' % (k, v) for k, v in fields.items()).encode('latin-1')


def handle(maps, request, render):
    reply = {k: request[k] for k in ('type', 'id', 'map', 'prio', 'x', 'y', 'z') if k in request}
    started = time.monotonic()
    try:
        if request.get('type') != 'metatile_render_request':
            raise RenderError('unknown request type %r' % request.get('type'))
        mapconf = maps.get(request.get('map'))
        if mapconf is None:
            raise RenderError('the map %r is unknown to this renderer' % request.get('map'))
        try:
            z, x, y = int(request['z']), int(request['x']), int(request['y'])
        except (KeyError, ValueError):
            raise RenderError('x, y and z must be integers')
        reply['metatile'] = render(mapconf, z, x, y)
        reply['result'] = 'ok'
    except RenderError as err:
        reply['result'] = 'error'
        reply['errmsg'] = str(err).replace('\n', ' ')
    reply['render_time'] = int((time.monotonic() - started) * 1000)
    return reply


class Stop(Exception):
    pass


def main(render=render_metatile):
    env = os.environ
    for key in ('TIREX_BACKEND_NAME', 'TIREX_BACKEND_PORT', 'TIREX_BACKEND_MAP_CONFIGS',
                'TIREX_BACKEND_ALIVE_TIMEOUT', 'TIREX_BACKEND_PIPE_FILENO'):
        if not env.get(key):
            disable('missing ' + key)
    try:
        maps = load_maps(env['TIREX_BACKEND_MAP_CONFIGS'].split())
    except (OSError, ValueError) as err:
        disable('error reading map config: %s' % err)
    alive_timeout = max(1, int(env['TIREX_BACKEND_ALIVE_TIMEOUT']))
    pipe_fd = int(env['TIREX_BACKEND_PIPE_FILENO'])

    if env.get('TIREX_BACKEND_SOCKET_FILENO'):
        sock = socket.socket(fileno=int(env['TIREX_BACKEND_SOCKET_FILENO']))
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(('127.0.0.1', int(env['TIREX_BACKEND_PORT'])))
        except OSError as err:
            log('cannot bind: %s' % err)
            sys.exit(EXIT_CODE_RESTART)  # a port in use is not a configuration error: try again
    log('renderer %s started, maps: %s' % (env['TIREX_BACKEND_NAME'], ', '.join(maps)))

    state = {'busy': False, 'stop': False}

    def on_signal(signum, frame):
        state['stop'] = True
        if not state['busy']:
            raise Stop()  # idle: leave now; busy: finish the request first
    for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_signal)

    try:
        while not state['stop']:
            try:
                os.write(pipe_fd, b'a')  # alive, and waiting for a request
            except OSError:
                break  # the manager is gone
            ready, _, _ = select.select([sock], [], [], alive_timeout)
            if not ready:
                continue
            data, peer = sock.recvfrom(MAX_DATAGRAM)
            state['busy'] = True
            request = parse_message(data)
            log('request %s' % request)
            reply = handle(maps, request, render)
            sock.sendto(format_message(reply), peer)
            state['busy'] = False
    except Stop:
        pass
    log('stopping')
    sys.exit(EXIT_CODE_RESTART)


if __name__ == '__main__':
    main()
