// Mosaicd.cs - a client library for mosaicd (see docs/wire.md and docs/clients.md).
//
// One source file, no dependencies beyond the base class library, so it can be
// dropped into a .NET Framework 4.x / Mono project (mcs) or a .NET 6+ project:
//
//   mcs -target:library -out:Mosaicd.dll Mosaicd.cs
//   mcs -r:Mosaicd.dll -out:MapClient.exe examples/MapClient.cs
//
// What is in here:
//
//   TileClient          the line protocol (map systems): tile names, barrier,
//                       viewport, cancel, dirty, ping, stats, stop
//   CompletionListener  the map system's side of the callback channel: one
//                       typed Notice per "Z_X_Y" / "error Z_X_Y reason" / "done"
//   FramedClient        the framed binary protocol (vision hosts), over TCP or
//                       over a spawned `mosaicd stdio` child, pipelined
//   Json                a small, strict JSON reader/writer (Mono has no
//                       System.Text.Json)
//
// The rules this code follows, because the original clients broke them:
//   * one Read is not one message: line replies are read to EOF, frames are
//     read with ReadExactly loops;
//   * the completion listener sets its socket options so a restart does not
//     fail with "Address already in use";
//   * in stdio mode stdout carries frames only; the child's stderr is passed
//     through or drained so it never blocks.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Mosaicd
{
    // ------------------------------------------------------------------
    // Tile names
    // ------------------------------------------------------------------

    /// <summary>Tile names as the daemon writes them in notices and file names: "Z_X_Y".</summary>
    public static class TileName
    {
        public static string Format(int z, long x, long y)
        {
            return z.ToString(CultureInfo.InvariantCulture) + "_" + x.ToString(CultureInfo.InvariantCulture) + "_" + y.ToString(CultureInfo.InvariantCulture);
        }

        /// <summary>"Z/X/Y" becomes "Z_X_Y" (the name notices use); anything else is returned as given.</summary>
        public static string Normalize(string name)
        {
            int z;
            long x, y;
            return TryParse(name, out z, out x, out y) ? Format(z, x, y) : name;
        }

        /// <summary>Parses "Z_X_Y" or "Z/X/Y"; false when the text is not three decimal numbers.</summary>
        public static bool TryParse(string name, out int z, out long x, out long y)
        {
            z = 0; x = 0; y = 0;
            if (name == null) return false;
            string[] parts = name.Split(name.IndexOf('/') >= 0 ? '/' : '_');
            if (parts.Length != 3) return false;
            return int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out z)
                && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out x)
                && long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out y);
        }
    }

    // ------------------------------------------------------------------
    // Line protocol
    // ------------------------------------------------------------------

    /// <summary>
    /// The line protocol (wire.md section 3). Every call opens one connection,
    /// writes all its lines, half-closes (Socket.Shutdown(Send)) and reads what
    /// the daemon writes back until the daemon closes: barrier replies, "pong",
    /// the stats line. Thread-safe: calls share no state.
    /// </summary>
    public sealed class TileClient
    {
        public string Host { get; private set; }
        public int Port { get; private set; }

        /// <summary>Read/write timeout per call in ms; 0 (default) waits as long as it takes (a barrier over many tiles can take a while).</summary>
        public int TimeoutMs { get; set; }

        public TileClient(string host = "127.0.0.1", int port = 12345)
        {
            Host = host;
            Port = port;
        }

        /// <summary>
        /// Sends lines on one connection and returns everything the daemon wrote
        /// back before closing it. An empty string in <paramref name="lines"/> is a barrier.
        /// </summary>
        public string Send(IEnumerable<string> lines, bool terminate = true)
        {
            return Exchange(Encode(lines, terminate), false);
        }

        /// <summary>Asks for tiles ("Z_X_Y" or "Z/X/Y"); returns once the daemon has taken them (not rendered them).</summary>
        public void Request(params string[] names)
        {
            Send(names);
        }

        /// <summary>
        /// Asks for tiles; with <paramref name="barrier"/>, also sends the empty
        /// line and returns only when every one of them is finished (rendered or failed).
        /// </summary>
        public void Request(IEnumerable<string> names, bool barrier)
        {
            var lines = new List<string>(names);
            if (!barrier)
            {
                Send(lines);
                return;
            }
            lines.Add("");
            string reply = Send(lines);
            if (reply.IndexOf('\n') < 0)
                throw new IOException("the daemon closed the connection without answering the barrier" + (reply.Length > 0 ? ": " + reply.Trim() : ""));
        }

        /// <summary>The client now shows zoom z, columns minX..maxX, rows minY..maxY: those tiles jump the queue.</summary>
        public string Viewport(int z, long minX, long minY, long maxX, long maxY)
        {
            return Send(new[] { string.Format(CultureInfo.InvariantCulture, "viewport {0} {1} {2} {3} {4}", z, minX, minY, maxX, maxY) });
        }

        /// <summary>Withdraws this client's queued request for a tile.</summary>
        public string Cancel(string name)
        {
            return Send(new[] { "cancel " + name });
        }

        /// <summary>Marks a tile stale so it is rendered again (admin: loopback or the admin token).</summary>
        public string Dirty(string name, string token = null)
        {
            return Send(new[] { token == null ? "dirty " + name : "dirty " + name + " " + token });
        }

        /// <summary>True when the daemon answers "pong".</summary>
        public bool Ping()
        {
            return Send(new[] { "ping" }).Trim() == "pong";
        }

        /// <summary>
        /// Polls <see cref="Ping"/> until the daemon answers or <paramref name="timeoutMs"/> has passed.
        /// For start-up: a refused connection is retried every 100 ms.
        /// </summary>
        public bool WaitUntilReady(int timeoutMs)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    if (Ping()) return true;
                }
                catch (SocketException) { }
                catch (IOException) { }
                if (clock.ElapsedMilliseconds >= timeoutMs) return false;
                Thread.Sleep(100);
            }
        }

        /// <summary>The daemon's stats as the JSON line it sends.</summary>
        public string StatsJson()
        {
            return Send(new[] { "stats" }).Trim();
        }

        /// <summary>The daemon's stats, parsed (nested Dictionary/List/long/double/string/bool/null).</summary>
        public Dictionary<string, object> Stats()
        {
            return Json.Parse(StatsJson()) as Dictionary<string, object>;
        }

        /// <summary>
        /// Asks the daemon to finish its queue, send every notice, send "done" and exit.
        /// Returns what it wrote back (empty when accepted; a refusal otherwise).
        /// A connection reset while it exits counts as the end of the reply.
        /// </summary>
        public string Stop(string token = null)
        {
            return Exchange(Encode(new[] { token == null ? "stop" : "stop " + token }, true), true);
        }

        static byte[] Encode(IEnumerable<string> lines, bool terminate)
        {
            var sb = new StringBuilder();
            bool first = true;
            foreach (string line in lines)
            {
                if (line == null) throw new ArgumentNullException("lines", "a line is null");
                if (line.IndexOf('\n') >= 0 || line.IndexOf('\r') >= 0) throw new ArgumentException("a line contains a line break: " + line);
                if (!first) sb.Append('\n');
                sb.Append(line);
                first = false;
            }
            if (terminate) sb.Append('\n');
            return Encoding.UTF8.GetBytes(sb.ToString());
        }

        string Exchange(byte[] body, bool tolerateReset)
        {
            using (var tcp = new TcpClient())
            {
                if (TimeoutMs > 0)
                {
                    tcp.ReceiveTimeout = TimeoutMs;
                    tcp.SendTimeout = TimeoutMs;
                }
                tcp.Connect(Host, Port);
                NetworkStream stream = tcp.GetStream();
                stream.Write(body, 0, body.Length);
                // Half-close: the daemon sees EOF, takes a final unterminated
                // line as complete, and closes once it owes us nothing more.
                tcp.Client.Shutdown(SocketShutdown.Send);
                var reply = new MemoryStream();
                var buffer = new byte[4096];
                try
                {
                    int n;
                    // One Read is not one message: read until the daemon closes.
                    while ((n = stream.Read(buffer, 0, buffer.Length)) > 0) reply.Write(buffer, 0, n);
                }
                catch (IOException e)
                {
                    if (!(tolerateReset && IsReset(e))) throw;
                }
                return Encoding.UTF8.GetString(reply.ToArray());
            }
        }

        internal static bool IsReset(Exception e)
        {
            var se = (e as SocketException) ?? (e.InnerException as SocketException);
            return se != null && (se.SocketErrorCode == SocketError.ConnectionReset || se.SocketErrorCode == SocketError.ConnectionAborted);
        }
    }

    // ------------------------------------------------------------------
    // Completion notices
    // ------------------------------------------------------------------

    public enum NoticeKind { Tile, Error, Done }

    /// <summary>One completion notice (wire.md section 4).</summary>
    public sealed class Notice
    {
        public NoticeKind Kind { get; private set; }
        /// <summary>The tile ("Z_X_Y"), or for an error the name the daemon reported; null for Done.</summary>
        public string Name { get; private set; }
        /// <summary>Why a tile failed (Error only), else null.</summary>
        public string Reason { get; private set; }
        /// <summary>The line as received.</summary>
        public string Line { get; private set; }

        public static Notice Parse(string line)
        {
            if (line == null) throw new ArgumentNullException("line");
            line = line.TrimEnd('\r');
            var n = new Notice { Line = line };
            if (line == "done")
            {
                n.Kind = NoticeKind.Done;
            }
            else if (line.StartsWith("error ", StringComparison.Ordinal))
            {
                n.Kind = NoticeKind.Error;
                string rest = line.Substring(6);
                int space = rest.IndexOf(' ');
                n.Name = space < 0 ? rest : rest.Substring(0, space);
                n.Reason = space < 0 ? "" : rest.Substring(space + 1);
            }
            else
            {
                n.Kind = NoticeKind.Tile;
                n.Name = line;
            }
            return n;
        }

        public override string ToString()
        {
            return Line;
        }
    }

    public sealed class NoticeEventArgs : EventArgs
    {
        public Notice Notice { get; private set; }

        public NoticeEventArgs(Notice notice)
        {
            Notice = notice;
        }
    }

    /// <summary>
    /// The map system's completion listener: accepts the daemon's connections,
    /// reads each one to EOF (short mode, one notice per connection) or line by
    /// line as the lines arrive (persistent mode), and raises <see cref="NoticeReceived"/>
    /// once per notice. Short connections are handled one after another in
    /// accept order, so notices come out in completion order; a connection that
    /// stays open is handed to its own thread.
    /// </summary>
    public sealed class CompletionListener : IDisposable
    {
        const int InlineBudgetMs = 1000;
        const int MaxLineBytes = 64 * 1024;

        readonly IPAddress address;
        readonly int requestedPort;
        TcpListener listener;
        readonly object gate = new object();
        readonly List<Notice> notices = new List<Notice>();
        readonly HashSet<TcpClient> open = new HashSet<TcpClient>();
        Thread acceptThread;
        volatile bool stopping;

        /// <summary>
        /// Raised once per notice, on a listener thread, before the notice is
        /// visible to WaitFor/WaitForDone/Notices. Handlers should be quick and
        /// must not wait for notices themselves.
        /// </summary>
        public event EventHandler<NoticeEventArgs> NoticeReceived;

        /// <summary>Creates a listener (not started). Port 0 picks a free port; read <see cref="Port"/> after Start.</summary>
        public CompletionListener(int port = 12346, string host = "127.0.0.1")
        {
            address = IPAddress.Parse(host);
            requestedPort = port;
        }

        /// <summary>Creates and starts a listener.</summary>
        public static CompletionListener Start(int port, string host = "127.0.0.1")
        {
            var l = new CompletionListener(port, host);
            l.Start();
            return l;
        }

        /// <summary>The port actually listened on (after Start).</summary>
        public int Port
        {
            get { return ((IPEndPoint)listener.LocalEndpoint).Port; }
        }

        /// <summary>
        /// Starts listening. Throws SocketException (AddressAlreadyInUse) when
        /// another listener is live on the port (an earlier run still going).
        /// </summary>
        public void Start()
        {
            // A restarted map system must be able to listen again at once. Two
            // things stood in the way of the original listener: its listening
            // thread was a foreground thread that never ended, so the old
            // process lived on holding the port (ours are background threads,
            // ended by Stop/Dispose); and on .NET (not Mono, which sets it by
            // default) a socket without SO_REUSEADDR leaves TIME_WAIT
            // connections that block the next bind. So ReuseAddress is set.
            // On Linux, Mono and .NET map it to SO_REUSEADDR + SO_REUSEPORT,
            // which would also let two live listeners share the port and split
            // the notices between them; hence the check for a live one first.
            stopping = false;
            if (requestedPort != 0 && SomeoneListens())
                throw new SocketException((int)SocketError.AddressAlreadyInUse);
            listener = Create();
            listener.Start(64);
            acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "mosaicd-listener" };
            acceptThread.Start();
        }

        TcpListener Create()
        {
            var l = new TcpListener(address, requestedPort);
            // ExclusiveAddressUse is Windows' option (on Unix .NET refuses false): off, so ReuseAddress applies.
            try { l.ExclusiveAddressUse = false; } catch (SocketException) { } catch (NotSupportedException) { } catch (InvalidOperationException) { }
            l.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            return l;
        }

        bool SomeoneListens()
        {
            IPAddress probe = address.Equals(IPAddress.Any) ? IPAddress.Loopback : address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : address;
            try
            {
                using (var c = new TcpClient(probe.AddressFamily))
                {
                    IAsyncResult ar = c.BeginConnect(probe, requestedPort, null, null);
                    if (!ar.AsyncWaitHandle.WaitOne(2000)) return false; // no answer (filtered): let the bind decide
                    c.EndConnect(ar);
                    return true;
                }
            }
            catch (SocketException)
            {
                return false; // refused: nobody listens
            }
        }

        /// <summary>Every notice received so far, in arrival order.</summary>
        public IList<Notice> Notices
        {
            get { lock (gate) return notices.ToArray(); }
        }

        /// <summary>
        /// Blocks until there is a notice (tile or error) for every name, and
        /// returns them in the order of <paramref name="names"/>. Notices that
        /// arrived before the call count; "Z/X/Y" matches the notice "Z_X_Y".
        /// Throws TimeoutException naming the missing tiles.
        /// </summary>
        public IList<Notice> WaitFor(IEnumerable<string> names, int timeoutMs)
        {
            var wanted = new List<string>();
            foreach (string name in names) wanted.Add(TileName.Normalize(name));
            var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
            lock (gate)
            {
                while (true)
                {
                    var found = new Dictionary<string, Notice>();
                    foreach (Notice n in notices)
                    {
                        if (n.Kind == NoticeKind.Done) continue;
                        string key = TileName.Normalize(n.Name);
                        if (!found.ContainsKey(key)) found[key] = n;
                    }
                    var missing = wanted.FindAll(w => !found.ContainsKey(w));
                    if (missing.Count == 0) return wanted.ConvertAll(w => found[w]);
                    int left = (int)(deadline - DateTime.UtcNow).TotalMilliseconds;
                    if (left <= 0)
                    {
                        string list = string.Join(", ", missing.GetRange(0, Math.Min(5, missing.Count)).ToArray());
                        if (missing.Count > 5) list += " and " + (missing.Count - 5) + " more";
                        throw new TimeoutException("no notice within " + timeoutMs + " ms for " + list);
                    }
                    Monitor.Wait(gate, left);
                }
            }
        }

        /// <summary>Blocks until "done" has arrived (or had already). Throws TimeoutException.</summary>
        public void WaitForDone(int timeoutMs)
        {
            var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
            lock (gate)
            {
                while (!notices.Exists(n => n.Kind == NoticeKind.Done))
                {
                    int left = (int)(deadline - DateTime.UtcNow).TotalMilliseconds;
                    if (left <= 0) throw new TimeoutException("no done within " + timeoutMs + " ms");
                    Monitor.Wait(gate, left);
                }
            }
        }

        /// <summary>Forgets the notices received so far (WaitFor then only sees new ones).</summary>
        public void Clear()
        {
            lock (gate) notices.Clear();
        }

        /// <summary>Stops listening and closes open connections. The port is free again when this returns.</summary>
        public void Stop()
        {
            stopping = true;
            if (listener != null) listener.Stop();
            lock (gate)
            {
                foreach (TcpClient c in open) c.Close();
                open.Clear();
            }
            if (acceptThread != null && Thread.CurrentThread != acceptThread) acceptThread.Join(5000);
        }

        public void Dispose()
        {
            Stop();
        }

        void AcceptLoop()
        {
            while (!stopping)
            {
                TcpClient client;
                try
                {
                    client = listener.AcceptTcpClient();
                }
                catch (SocketException) { if (stopping) return; continue; }
                catch (ObjectDisposedException) { return; }
                catch (InvalidOperationException) { return; }
                lock (gate)
                {
                    if (stopping) { client.Close(); return; }
                    open.Add(client);
                }
                var reader = new ConnectionReader(this, client);
                // Short mode: the connection ends within the budget and is read
                // here, so notices keep the daemon's order. Otherwise
                // (persistent mode, a slow peer) it gets its own thread.
                if (!reader.Run(InlineBudgetMs))
                {
                    var t = new Thread(() => reader.Run(Timeout.Infinite)) { IsBackground = true, Name = "mosaicd-listener-conn" };
                    t.Start();
                }
            }
        }

        void Emit(string line)
        {
            if (line.Trim().Length == 0) return;
            Notice n = Notice.Parse(line);
            // Handlers run first, so a WaitFor/WaitForDone that returns has
            // seen every handler for its notices finish (output stays in order).
            EventHandler<NoticeEventArgs> handler = NoticeReceived;
            if (handler != null)
            {
                try
                {
                    handler(this, new NoticeEventArgs(n));
                }
                catch (Exception e)
                {
                    // A failing handler must not stop the listener.
                    System.Diagnostics.Trace.WriteLine("mosaicd: NoticeReceived handler threw: " + e);
                }
            }
            lock (gate)
            {
                notices.Add(n);
                Monitor.PulseAll(gate);
            }
        }

        sealed class ConnectionReader
        {
            readonly CompletionListener owner;
            readonly TcpClient client;
            readonly MemoryStream pending = new MemoryStream();
            readonly byte[] buffer = new byte[4096];

            public ConnectionReader(CompletionListener owner, TcpClient client)
            {
                this.owner = owner;
                this.client = client;
            }

            /// <summary>Reads until EOF (true) or until budgetMs passes without EOF (false; call again).</summary>
            public bool Run(int budgetMs)
            {
                Socket s = client.Client;
                var clock = System.Diagnostics.Stopwatch.StartNew();
                try
                {
                    while (true)
                    {
                        if (budgetMs != Timeout.Infinite)
                        {
                            long left = budgetMs - clock.ElapsedMilliseconds;
                            if (left <= 0) return false;
                            if (!s.Poll((int)Math.Min(left, 100000) * 1000, SelectMode.SelectRead)) continue;
                        }
                        int n = s.Receive(buffer);
                        if (n == 0)
                        {
                            // EOF: an unterminated last line is complete (old daemons sent no newline).
                            if (pending.Length > 0) owner.Emit(Encoding.UTF8.GetString(pending.ToArray()));
                            pending.SetLength(0);
                            Finish();
                            return true;
                        }
                        Feed(n);
                    }
                }
                catch (Exception)
                {
                    // A reset (or Stop): the daemon counts the notice as not
                    // delivered and sends it again, so the unterminated rest is dropped.
                    Finish();
                    return true;
                }
            }

            void Feed(int n)
            {
                int start = 0;
                for (int i = 0; i < n; i++)
                {
                    if (buffer[i] != (byte)'\n') continue;
                    pending.Write(buffer, start, i - start);
                    owner.Emit(Encoding.UTF8.GetString(pending.ToArray()));
                    pending.SetLength(0);
                    start = i + 1;
                }
                pending.Write(buffer, start, n - start);
                if (pending.Length > MaxLineBytes) throw new IOException("notice line too long");
            }

            void Finish()
            {
                lock (owner.gate) owner.open.Remove(client);
                // Close only after the notices were emitted: the daemon waits
                // for this close before it counts the notice delivered, and
                // sends "done" only after everything was delivered.
                client.Close();
            }
        }
    }

    // ------------------------------------------------------------------
    // Framed protocol
    // ------------------------------------------------------------------

    public sealed class FramedError
    {
        /// <summary>PROTOCOL_ERROR, PROCESSING_ERROR, BUSY, TOO_LARGE, ... (docs/errors.md).</summary>
        public string Code { get; internal set; }
        public string Message { get; internal set; }

        public override string ToString()
        {
            return Code + ": " + Message;
        }
    }

    /// <summary>One result of a framed response, with its image.</summary>
    public sealed class FramedResult
    {
        public int ResultIndex { get; internal set; }
        public string ClassName { get; internal set; }
        public double Score { get; internal set; }
        /// <summary>Null for results that have no camera (a rendered tile).</summary>
        public int? CameraNumber { get; internal set; }
        public int ImageIndex { get; internal set; }
        public string ImageFormat { get; internal set; }
        public long ImageLength { get; internal set; }
        public int ImageWidth { get; internal set; }
        public int ImageHeight { get; internal set; }
        /// <summary>"RGB", "RGBA", "L", "P" ...</summary>
        public string ImageMode { get; internal set; }
        /// <summary>The result image (PNG bytes), or null when the response carried none for it.</summary>
        public byte[] Png { get; internal set; }
        /// <summary>Every field of the result as parsed JSON, extra fields (box, text, tile ...) included.</summary>
        public Dictionary<string, object> Fields { get; internal set; }

        public object Get(string key)
        {
            object v;
            return Fields != null && Fields.TryGetValue(key, out v) ? v : null;
        }
    }

    /// <summary>One framed response (wire.md section 5).</summary>
    public sealed class FramedResponse
    {
        public bool Success { get; internal set; }
        /// <summary>The request_id echoed back: long, double, string or null.</summary>
        public object RequestId { get; internal set; }
        public int ResultCount { get; internal set; }
        public List<FramedResult> Results { get; internal set; }
        /// <summary>Null on success.</summary>
        public FramedError Error { get; internal set; }
        /// <summary>The response JSON as received.</summary>
        public string Json { get; internal set; }
        /// <summary>The response JSON parsed (extra fields such as "pong", "stats", "shutdown").</summary>
        public Dictionary<string, object> Fields { get; internal set; }
        /// <summary>The result images in wire order.</summary>
        public List<byte[]> Images { get; internal set; }

        public object Get(string key)
        {
            object v;
            return Fields != null && Fields.TryGetValue(key, out v) ? v : null;
        }

        /// <summary>Throws MosaicdException when the daemon answered with an error; returns this otherwise.</summary>
        public FramedResponse EnsureSuccess()
        {
            if (!Success) throw new MosaicdException(Error != null ? Error.Code : "UNKNOWN", Error != null ? Error.Message : "the request failed");
            return this;
        }

        internal static FramedResponse FromWire(string json, List<byte[]> images)
        {
            var root = Mosaicd.Json.Parse(json) as Dictionary<string, object>;
            if (root == null) throw new InvalidDataException("the response JSON is not an object");
            var r = new FramedResponse { Json = json, Fields = root, Images = images, Results = new List<FramedResult>() };
            r.Success = Mosaicd.Json.GetBool(root, "success");
            r.RequestId = root.ContainsKey("request_id") ? root["request_id"] : null;
            r.ResultCount = (int)Mosaicd.Json.GetLong(root, "result_count", 0);
            var err = Mosaicd.Json.Get(root, "error") as Dictionary<string, object>;
            if (err != null)
                r.Error = new FramedError { Code = Mosaicd.Json.GetString(err, "code"), Message = Mosaicd.Json.GetString(err, "message") };
            var results = Mosaicd.Json.Get(root, "results") as List<object>;
            if (results != null)
            {
                for (int i = 0; i < results.Count; i++)
                {
                    var f = results[i] as Dictionary<string, object>;
                    if (f == null) continue;
                    var item = new FramedResult
                    {
                        Fields = f,
                        ResultIndex = (int)Mosaicd.Json.GetLong(f, "result_index", i),
                        ClassName = Mosaicd.Json.GetString(f, "class_name"),
                        Score = Mosaicd.Json.GetDouble(f, "score", 0),
                        ImageIndex = (int)Mosaicd.Json.GetLong(f, "image_index", i),
                        ImageFormat = Mosaicd.Json.GetString(f, "image_format"),
                        ImageLength = Mosaicd.Json.GetLong(f, "image_length", 0),
                        ImageWidth = (int)Mosaicd.Json.GetLong(f, "image_width", 0),
                        ImageHeight = (int)Mosaicd.Json.GetLong(f, "image_height", 0),
                        ImageMode = Mosaicd.Json.GetString(f, "image_mode"),
                    };
                    object cam = Mosaicd.Json.Get(f, "camera_number");
                    if (cam is long) item.CameraNumber = (int)(long)cam;
                    if (item.ImageIndex >= 0 && item.ImageIndex < images.Count) item.Png = images[item.ImageIndex];
                    r.Results.Add(item);
                }
            }
            return r;
        }
    }

    /// <summary>An error answer from the daemon (see EnsureSuccess), or a broken connection.</summary>
    public sealed class MosaicdException : Exception
    {
        public string Code { get; private set; }

        public MosaicdException(string code, string message) : base(code + ": " + message)
        {
            Code = code;
        }
    }

    /// <summary>
    /// The framed protocol (wire.md section 5) over TCP or over the stdin/stdout of a
    /// spawned `mosaicd stdio`. Requests may be pipelined: SendAsync writes a
    /// request at once and its task completes when its response arrives; the
    /// daemon answers in request order and a reader thread matches responses
    /// to requests by that order. The synchronous methods are SendAsync + wait.
    /// Thread-safe.
    /// </summary>
    public sealed class FramedClient : IDisposable
    {
        /// <summary>Largest response JSON accepted (bytes).</summary>
        public const long MaxJsonBytes = 64L * 1024 * 1024;
        /// <summary>Largest single result image accepted (bytes).</summary>
        public const long MaxImageBytes = 1L << 30;
        const int MaxImages = 1 << 16;

        readonly Stream input;
        readonly Stream output;
        readonly TcpClient tcp;
        readonly System.Diagnostics.Process child;
        readonly object writeLock = new object();
        readonly object queueLock = new object();
        readonly Queue<TaskCompletionSource<FramedResponse>> waiting = new Queue<TaskCompletionSource<FramedResponse>>();
        readonly Thread reader;
        Exception failure;
        long nextId;
        bool closedOutput;

        /// <summary>Timeout for the synchronous methods, ms; -1 (default) waits forever. A timed-out request's response is still consumed in order when it comes.</summary>
        public int TimeoutMs { get; set; }

        /// <summary>The spawned child in stdio mode, else null.</summary>
        public System.Diagnostics.Process Child
        {
            get { return child; }
        }

        FramedClient(Stream input, Stream output, TcpClient tcp, System.Diagnostics.Process child)
        {
            this.input = input;
            this.output = output;
            this.tcp = tcp;
            this.child = child;
            TimeoutMs = -1;
            reader = new Thread(ReadLoop) { IsBackground = true, Name = "mosaicd-framed-reader" };
            reader.Start();
        }

        /// <summary>Connects to the daemon's request port (frames are auto-detected there).</summary>
        public static FramedClient Connect(string host = "127.0.0.1", int port = 12345)
        {
            var tcp = new TcpClient();
            try
            {
                tcp.Connect(host, port);
                tcp.NoDelay = true;
                NetworkStream s = tcp.GetStream();
                return new FramedClient(s, s, tcp, null);
            }
            catch
            {
                tcp.Close();
                throw;
            }
        }

        /// <summary>
        /// Spawns a program that speaks the framed protocol on stdin/stdout, e.g.
        /// Spawn("node", "/opt/mosaicd/bin/mosaicd.js stdio"). With
        /// <paramref name="stderrLine"/> null the child's stderr goes to ours;
        /// otherwise each stderr line is handed to it (drained on its own
        /// thread, so a chatty child never blocks).
        /// </summary>
        public static FramedClient Spawn(string fileName, string arguments, Action<string> stderrLine = null)
        {
            var psi = new System.Diagnostics.ProcessStartInfo(fileName, arguments ?? "");
            return Spawn(psi, stderrLine);
        }

        /// <summary>Spawns with a start info of your own (environment, working directory); the redirections are set here.</summary>
        public static FramedClient Spawn(System.Diagnostics.ProcessStartInfo startInfo, Action<string> stderrLine = null)
        {
            startInfo.UseShellExecute = false;
            startInfo.RedirectStandardInput = true;
            startInfo.RedirectStandardOutput = true;
            startInfo.RedirectStandardError = stderrLine != null;
            startInfo.CreateNoWindow = true;
            var p = new System.Diagnostics.Process { StartInfo = startInfo };
            if (stderrLine != null)
            {
                p.ErrorDataReceived += (sender, e) =>
                {
                    if (e.Data == null) return;
                    try { stderrLine(e.Data); } catch (Exception) { }
                };
            }
            p.Start();
            if (stderrLine != null) p.BeginErrorReadLine();
            // The raw streams: stdout carries binary frames, never text.
            return new FramedClient(p.StandardOutput.BaseStream, p.StandardInput.BaseStream, null, p);
        }

        /// <summary>Quotes arguments for ProcessStartInfo.Arguments (spaces and quotes).</summary>
        public static string QuoteArguments(IEnumerable<string> args)
        {
            var sb = new StringBuilder();
            foreach (string a in args)
            {
                if (sb.Length > 0) sb.Append(' ');
                if (a.Length > 0 && a.IndexOfAny(new[] { ' ', '\t', '\n', '"', '\'' }) < 0)
                {
                    sb.Append(a);
                    continue;
                }
                sb.Append('"');
                int slashes = 0;
                foreach (char c in a)
                {
                    if (c == '\\') { slashes++; continue; }
                    if (c == '"') { sb.Append('\\', slashes * 2 + 1); sb.Append('"'); }
                    else { sb.Append('\\', slashes); sb.Append(c); }
                    slashes = 0;
                }
                sb.Append('\\', slashes * 2);
                sb.Append('"');
            }
            return sb.ToString();
        }

        // ---- requests ----

        /// <summary>
        /// Sends one request with raw JSON metadata (an object) and an optional
        /// payload; the task completes with its response. For anything the typed
        /// methods cannot express (a boolean camera_number, say).
        /// </summary>
        public Task<FramedResponse> SendAsync(string json, byte[] payload = null)
        {
            if (json == null) throw new ArgumentNullException("json");
            byte[] meta = Encoding.UTF8.GetBytes(json);
            if (meta.Length == 0) throw new ArgumentException("the request JSON is empty");
            payload = payload ?? new byte[0];
            var tcs = new TaskCompletionSource<FramedResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (writeLock)
            {
                lock (queueLock)
                {
                    if (failure != null)
                    {
                        tcs.SetException(failure);
                        return tcs.Task;
                    }
                    if (closedOutput) throw new InvalidOperationException("the request side is closed");
                    waiting.Enqueue(tcs);
                }
                try
                {
                    var head = new byte[8 + meta.Length + 8];
                    PutU64(head, 0, (ulong)meta.Length);
                    Buffer.BlockCopy(meta, 0, head, 8, meta.Length);
                    PutU64(head, 8 + meta.Length, (ulong)payload.Length);
                    output.Write(head, 0, head.Length);
                    if (payload.Length > 0) output.Write(payload, 0, payload.Length);
                    output.Flush();
                }
                catch (Exception e)
                {
                    Fail(new IOException("writing the request failed: " + e.Message, e));
                }
            }
            return tcs.Task;
        }

        /// <summary>Sends one request built from a dictionary (serialized with Json.Serialize).</summary>
        public Task<FramedResponse> SendAsync(IDictionary<string, object> request, byte[] payload = null)
        {
            return SendAsync(Mosaicd.Json.Serialize(request), payload);
        }

        /// <summary>Raw request, synchronous: JSON text as given, payload as given.</summary>
        public FramedResponse Request(string json, byte[] payload = null)
        {
            return Wait(SendAsync(json, payload));
        }

        public FramedResponse Request(IDictionary<string, object> request, byte[] payload = null)
        {
            return Wait(SendAsync(request, payload));
        }

        /// <summary>Runs the model for <paramref name="camera"/> (or the one named) on an encoded image.</summary>
        public FramedResponse Process(byte[] image, int camera, string model = null, object requestId = null)
        {
            return Wait(ProcessAsync(image, camera, model, requestId));
        }

        public Task<FramedResponse> ProcessAsync(byte[] image, int camera, string model = null, object requestId = null)
        {
            if (image == null || image.Length == 0) throw new ArgumentException("process needs an image");
            var req = Command("process", requestId);
            req["camera_number"] = camera;
            if (model != null) req["model"] = model;
            return SendAsync(req, image);
        }

        /// <summary>Renders (or reads from the cache) one tile "Z_X_Y"; the PNG is Results[0].Png.</summary>
        public FramedResponse Render(string tile, object requestId = null)
        {
            return Wait(RenderAsync(tile, requestId));
        }

        public Task<FramedResponse> RenderAsync(string tile, object requestId = null)
        {
            var req = Command("render", requestId);
            req["tile"] = tile;
            return SendAsync(req);
        }

        /// <summary>Answers with "pong": true.</summary>
        public FramedResponse Ping()
        {
            return Request(Command("ping", null));
        }

        /// <summary>The daemon's stats: Get("stats") as a Dictionary.</summary>
        public FramedResponse Stats()
        {
            return Request(Command("stats", null));
        }

        public FramedResponse Viewport(int z, long minX, long minY, long maxX, long maxY)
        {
            var req = Command("viewport", null);
            req["z"] = z;
            req["min_x"] = minX;
            req["min_y"] = minY;
            req["max_x"] = maxX;
            req["max_y"] = maxY;
            return Request(req);
        }

        public FramedResponse Cancel(string tile)
        {
            var req = Command("cancel", null);
            req["tile"] = tile;
            return Request(req);
        }

        /// <summary>Asks the daemon to exit (answered first). In stdio mode the child then exits 0.</summary>
        public FramedResponse Shutdown(string token = null)
        {
            var req = Command("shutdown", null);
            if (token != null) req["token"] = token;
            return Request(req);
        }

        /// <summary>Half-closes the request side (TCP FIN, or EOF on the child's stdin: it then exits 0). Responses still arrive.</summary>
        public void Close()
        {
            lock (writeLock)
            {
                lock (queueLock)
                {
                    if (closedOutput) return;
                    closedOutput = true;
                }
                try
                {
                    if (tcp != null) tcp.Client.Shutdown(SocketShutdown.Send);
                    else output.Close();
                }
                catch (Exception) { }
            }
        }

        /// <summary>In stdio mode: waits for the child to exit and returns its exit code, or null on timeout (or over TCP).</summary>
        public int? WaitForExit(int timeoutMs)
        {
            if (child == null) return null;
            if (!child.WaitForExit(timeoutMs)) return null;
            child.WaitForExit(); // flushes the async stderr reader
            return child.ExitCode;
        }

        /// <summary>Closes the connection. A spawned child gets EOF on stdin and 5 s to exit, then is killed.</summary>
        public void Dispose()
        {
            Close();
            if (child != null)
            {
                try
                {
                    if (!child.WaitForExit(5000)) child.Kill();
                }
                catch (Exception) { }
            }
            Fail(new ObjectDisposedException("FramedClient"));
            try { input.Close(); } catch (Exception) { }
            try { output.Close(); } catch (Exception) { }
            if (tcp != null) tcp.Close();
            if (child != null) child.Dispose();
        }

        Dictionary<string, object> Command(string command, object requestId)
        {
            var req = new Dictionary<string, object>();
            req["command"] = command;
            req["request_id"] = requestId ?? Interlocked.Increment(ref nextId);
            return req;
        }

        FramedResponse Wait(Task<FramedResponse> task)
        {
            if (TimeoutMs >= 0)
            {
                bool finished;
                try { finished = task.Wait(TimeoutMs); }
                catch (AggregateException) { finished = true; }
                if (!finished) throw new TimeoutException("no response within " + TimeoutMs + " ms");
            }
            // GetResult rethrows the task's own exception, not an AggregateException.
            return task.GetAwaiter().GetResult();
        }

        // ---- responses ----

        void ReadLoop()
        {
            try
            {
                while (true)
                {
                    FramedResponse r = ReadResponse();
                    if (r == null)
                    {
                        Fail(new EndOfStreamException("the daemon closed the connection"));
                        return;
                    }
                    TaskCompletionSource<FramedResponse> tcs = null;
                    lock (queueLock)
                    {
                        if (waiting.Count > 0) tcs = waiting.Dequeue();
                    }
                    if (tcs == null)
                    {
                        Fail(new InvalidDataException("a response arrived for no request"));
                        return;
                    }
                    tcs.TrySetResult(r);
                }
            }
            catch (Exception e)
            {
                Fail(e is IOException || e is InvalidDataException || e is ObjectDisposedException ? e : new IOException(e.Message, e));
            }
        }

        /// <summary>One response; null at a clean EOF between responses.</summary>
        FramedResponse ReadResponse()
        {
            var len = new byte[8];
            if (!ReadExactly(input, len, 0, 8, true)) return null;
            ulong jsonLength = GetU64(len, 0);
            if (jsonLength == 0 || jsonLength > MaxJsonBytes) throw new InvalidDataException("bad response JSON length " + jsonLength);
            var json = new byte[(int)jsonLength];
            ReadExactly(input, json, 0, json.Length, false);
            ReadExactly(input, len, 0, 8, false);
            ulong count = GetU64(len, 0);
            if (count > MaxImages) throw new InvalidDataException("bad response image count " + count);
            var images = new List<byte[]>((int)count);
            for (ulong i = 0; i < count; i++)
            {
                ReadExactly(input, len, 0, 8, false);
                ulong size = GetU64(len, 0);
                if (size > (ulong)MaxImageBytes) throw new InvalidDataException("bad response image length " + size);
                var png = new byte[(int)size];
                ReadExactly(input, png, 0, png.Length, false);
                images.Add(png);
            }
            return FramedResponse.FromWire(Encoding.UTF8.GetString(json), images);
        }

        /// <summary>
        /// Reads exactly count bytes: a Read may return fewer than asked, so loop.
        /// With allowEof, EOF before the first byte returns false; EOF anywhere else throws.
        /// </summary>
        public static bool ReadExactly(Stream s, byte[] buffer, int offset, int count, bool allowEof)
        {
            int done = 0;
            while (done < count)
            {
                int n = s.Read(buffer, offset + done, count - done);
                if (n <= 0)
                {
                    if (done == 0 && allowEof) return false;
                    throw new EndOfStreamException("the stream ended inside a frame (" + done + " of " + count + " bytes)");
                }
                done += n;
            }
            return true;
        }

        void Fail(Exception e)
        {
            TaskCompletionSource<FramedResponse>[] pending;
            lock (queueLock)
            {
                if (failure == null) failure = e;
                pending = waiting.ToArray();
                waiting.Clear();
            }
            foreach (var t in pending) t.TrySetException(failure);
        }

        static void PutU64(byte[] b, int at, ulong v)
        {
            for (int i = 0; i < 8; i++) b[at + i] = (byte)(v >> (8 * i));
        }

        static ulong GetU64(byte[] b, int at)
        {
            ulong v = 0;
            for (int i = 7; i >= 0; i--) v = (v << 8) | b[at + i];
            return v;
        }
    }

    // ------------------------------------------------------------------
    // PNG
    // ------------------------------------------------------------------

    public static class Png
    {
        static readonly byte[] Signature = { 137, 80, 78, 71, 13, 10, 26, 10 };

        /// <summary>Width and height from the IHDR chunk; false when the bytes are not a PNG.</summary>
        public static bool TryGetSize(byte[] png, out int width, out int height)
        {
            width = 0;
            height = 0;
            if (png == null || png.Length < 24) return false;
            for (int i = 0; i < 8; i++) if (png[i] != Signature[i]) return false;
            if (png[12] != 'I' || png[13] != 'H' || png[14] != 'D' || png[15] != 'R') return false;
            width = (png[16] << 24) | (png[17] << 16) | (png[18] << 8) | png[19];
            height = (png[20] << 24) | (png[21] << 16) | (png[22] << 8) | png[23];
            return true;
        }
    }

    // ------------------------------------------------------------------
    // JSON
    // ------------------------------------------------------------------

    /// <summary>Embeds already-serialized JSON text in Json.Serialize output.</summary>
    public sealed class JsonRaw
    {
        public string Text { get; private set; }

        public JsonRaw(string text)
        {
            Text = text;
        }
    }

    /// <summary>
    /// A small strict JSON (RFC 8259) reader and writer. Parse gives
    /// Dictionary&lt;string, object&gt; (keys in document order), List&lt;object&gt;,
    /// string, long (integers that fit), double (other numbers), bool, null.
    /// </summary>
    public static class Json
    {
        const int MaxDepth = 512;

        public static object Parse(string text)
        {
            if (text == null) throw new ArgumentNullException("text");
            var p = new Parser(text);
            p.SkipWs();
            object v = p.Value(0);
            p.SkipWs();
            if (p.Pos != text.Length) throw p.Error("unexpected text after the value");
            return v;
        }

        public static string Serialize(object value)
        {
            var sb = new StringBuilder();
            Write(sb, value, 0);
            return sb.ToString();
        }

        public static object Get(IDictionary<string, object> o, string key)
        {
            object v;
            return o != null && o.TryGetValue(key, out v) ? v : null;
        }

        public static string GetString(IDictionary<string, object> o, string key)
        {
            return Get(o, key) as string;
        }

        public static bool GetBool(IDictionary<string, object> o, string key)
        {
            object v = Get(o, key);
            return v is bool && (bool)v;
        }

        public static long GetLong(IDictionary<string, object> o, string key, long fallback)
        {
            object v = Get(o, key);
            if (v is long) return (long)v;
            if (v is double) return (long)(double)v;
            return fallback;
        }

        public static double GetDouble(IDictionary<string, object> o, string key, double fallback)
        {
            object v = Get(o, key);
            if (v is long) return (long)v;
            if (v is double) return (double)v;
            return fallback;
        }

        static void Write(StringBuilder sb, object v, int depth)
        {
            if (depth > MaxDepth) throw new ArgumentException("JSON nesting too deep");
            if (v == null) { sb.Append("null"); return; }
            var raw = v as JsonRaw;
            if (raw != null) { sb.Append(raw.Text); return; }
            var s = v as string;
            if (s != null) { WriteString(sb, s); return; }
            if (v is bool) { sb.Append((bool)v ? "true" : "false"); return; }
            if (v is char) { WriteString(sb, v.ToString()); return; }
            if (v is double || v is float)
            {
                double d = Convert.ToDouble(v, CultureInfo.InvariantCulture);
                if (double.IsNaN(d) || double.IsInfinity(d)) throw new ArgumentException("JSON has no NaN or Infinity");
                sb.Append(d.ToString("R", CultureInfo.InvariantCulture));
                return;
            }
            if (v is decimal) { sb.Append(((decimal)v).ToString(CultureInfo.InvariantCulture)); return; }
            if (v is int || v is long || v is short || v is byte || v is sbyte || v is uint || v is ulong || v is ushort)
            {
                sb.Append(Convert.ToString(v, CultureInfo.InvariantCulture));
                return;
            }
            if (v is Enum) { WriteString(sb, v.ToString()); return; }
            var dict = v as IDictionary;
            if (dict != null)
            {
                sb.Append('{');
                bool first = true;
                foreach (DictionaryEntry e in dict)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    WriteString(sb, Convert.ToString(e.Key, CultureInfo.InvariantCulture));
                    sb.Append(':');
                    Write(sb, e.Value, depth + 1);
                }
                sb.Append('}');
                return;
            }
            var list = v as IEnumerable;
            if (list != null)
            {
                sb.Append('[');
                bool first = true;
                foreach (object item in list)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    Write(sb, item, depth + 1);
                }
                sb.Append(']');
                return;
            }
            throw new ArgumentException("cannot serialize a " + v.GetType().FullName + " as JSON");
        }

        static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || c == '\u2028' || c == '\u2029')
                        {
                            AppendEscape(sb, c);
                        }
                        else if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                        {
                            sb.Append(c).Append(s[i + 1]);
                            i++;
                        }
                        else if (char.IsSurrogate(c))
                        {
                            // A lone surrogate cannot be encoded as UTF-8; escaped it survives.
                            AppendEscape(sb, c);
                        }
                        else
                        {
                            sb.Append(c);
                        }
                        break;
                }
            }
            sb.Append('"');
        }

        static void AppendEscape(StringBuilder sb, char c)
        {
            sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
        }

        sealed class Parser
        {
            readonly string s;
            public int Pos;

            public Parser(string text)
            {
                s = text;
            }

            public FormatException Error(string message)
            {
                return new FormatException("invalid JSON at offset " + Pos + ": " + message);
            }

            public void SkipWs()
            {
                while (Pos < s.Length)
                {
                    char c = s[Pos];
                    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') Pos++;
                    else break;
                }
            }

            public object Value(int depth)
            {
                if (depth > MaxDepth) throw Error("nesting too deep");
                if (Pos >= s.Length) throw Error("unexpected end");
                char c = s[Pos];
                switch (c)
                {
                    case '{': return Obj(depth);
                    case '[': return Arr(depth);
                    case '"': return Str();
                    case 't': Word("true"); return true;
                    case 'f': Word("false"); return false;
                    case 'n': Word("null"); return null;
                    default:
                        if (c == '-' || (c >= '0' && c <= '9')) return Num();
                        throw Error("unexpected character '" + c + "'");
                }
            }

            void Word(string w)
            {
                if (string.CompareOrdinal(s, Pos, w, 0, w.Length) != 0) throw Error("expected " + w);
                Pos += w.Length;
            }

            Dictionary<string, object> Obj(int depth)
            {
                var o = new Dictionary<string, object>();
                Pos++;
                SkipWs();
                if (Pos < s.Length && s[Pos] == '}') { Pos++; return o; }
                while (true)
                {
                    SkipWs();
                    if (Pos >= s.Length || s[Pos] != '"') throw Error("expected a string key");
                    string key = Str();
                    SkipWs();
                    if (Pos >= s.Length || s[Pos] != ':') throw Error("expected ':'");
                    Pos++;
                    SkipWs();
                    o[key] = Value(depth + 1);
                    SkipWs();
                    if (Pos >= s.Length) throw Error("unexpected end in an object");
                    if (s[Pos] == ',') { Pos++; continue; }
                    if (s[Pos] == '}') { Pos++; return o; }
                    throw Error("expected ',' or '}'");
                }
            }

            List<object> Arr(int depth)
            {
                var a = new List<object>();
                Pos++;
                SkipWs();
                if (Pos < s.Length && s[Pos] == ']') { Pos++; return a; }
                while (true)
                {
                    SkipWs();
                    a.Add(Value(depth + 1));
                    SkipWs();
                    if (Pos >= s.Length) throw Error("unexpected end in an array");
                    if (s[Pos] == ',') { Pos++; continue; }
                    if (s[Pos] == ']') { Pos++; return a; }
                    throw Error("expected ',' or ']'");
                }
            }

            string Str()
            {
                Pos++; // opening quote
                var sb = new StringBuilder();
                while (true)
                {
                    if (Pos >= s.Length) throw Error("unterminated string");
                    char c = s[Pos++];
                    if (c == '"') return sb.ToString();
                    if (c < 0x20) throw Error("control character in a string");
                    if (c != '\\') { sb.Append(c); continue; }
                    if (Pos >= s.Length) throw Error("unterminated escape");
                    char e = s[Pos++];
                    switch (e)
                    {
                        case '"': sb.Append('"'); break;
                        case '\\': sb.Append('\\'); break;
                        case '/': sb.Append('/'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'n': sb.Append('\n'); break;
                        case 'r': sb.Append('\r'); break;
                        case 't': sb.Append('\t'); break;
                        case 'u':
                            // \uD83D\uDE00 arrives as two escapes: appending both
                            // UTF-16 units gives the one character back.
                            sb.Append(Hex4());
                            break;
                        default: throw Error("bad escape \\" + e);
                    }
                }
            }

            char Hex4()
            {
                if (Pos + 4 > s.Length) throw Error("short \\u escape");
                int v = 0;
                for (int i = 0; i < 4; i++)
                {
                    char h = s[Pos++];
                    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (d < 0) throw Error("bad hex digit in \\u escape");
                    v = (v << 4) | d;
                }
                return (char)v;
            }

            object Num()
            {
                int start = Pos;
                if (s[Pos] == '-') Pos++;
                if (Pos >= s.Length) throw Error("bad number");
                if (s[Pos] == '0') Pos++;
                else if (s[Pos] >= '1' && s[Pos] <= '9') { while (Pos < s.Length && s[Pos] >= '0' && s[Pos] <= '9') Pos++; }
                else throw Error("bad number");
                bool integer = true;
                if (Pos < s.Length && s[Pos] == '.')
                {
                    integer = false;
                    Pos++;
                    int digits = Pos;
                    while (Pos < s.Length && s[Pos] >= '0' && s[Pos] <= '9') Pos++;
                    if (Pos == digits) throw Error("bad fraction");
                }
                if (Pos < s.Length && (s[Pos] == 'e' || s[Pos] == 'E'))
                {
                    integer = false;
                    Pos++;
                    if (Pos < s.Length && (s[Pos] == '+' || s[Pos] == '-')) Pos++;
                    int digits = Pos;
                    while (Pos < s.Length && s[Pos] >= '0' && s[Pos] <= '9') Pos++;
                    if (Pos == digits) throw Error("bad exponent");
                }
                string text = s.Substring(start, Pos - start);
                long l;
                if (integer && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out l)) return l;
                return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }
    }
}
