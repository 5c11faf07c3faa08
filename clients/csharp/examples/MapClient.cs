// A map system driving mosaicd over the line protocol.
//
//   mcs -target:library -out:Mosaicd.dll ../Mosaicd.cs
//   mcs -r:Mosaicd.dll -out:MapClient.exe MapClient.cs
//   mono MapClient.exe --port 12345 --callback-port 12346 [--no-stop] [TILE ...]
//
// It starts its completion listener, tells the daemon what is on screen, asks
// for a few tiles followed by the empty-line barrier, prints every notice as
// it arrives, then sends "stop" and waits for "done" (which comes last).

using System;
using System.Collections.Generic;
using Mosaicd;

public static class MapClient
{
    public static int Main(string[] args)
    {
        string host = "127.0.0.1";
        int port = 12345;
        int callbackPort = -1;
        bool stop = true;
        var tiles = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--host": host = args[++i]; break;
                case "--port": port = int.Parse(args[++i]); break;
                case "--callback-port": callbackPort = int.Parse(args[++i]); break;
                case "--no-stop": stop = false; break;
                default: tiles.Add(args[i]); break;
            }
        }
        if (callbackPort < 0) callbackPort = port + 1;
        if (tiles.Count == 0) tiles.AddRange(new[] { "16_58001_25480", "16_58001_25481", "16_58002_25480" });

        // Listen first: a notice for a fast tile may arrive before Request returns.
        using (var listener = CompletionListener.Start(callbackPort, host))
        {
            listener.NoticeReceived += (sender, e) =>
            {
                Notice n = e.Notice;
                switch (n.Kind)
                {
                    case NoticeKind.Tile: Console.WriteLine("notice tile " + n.Name); break;
                    case NoticeKind.Error: Console.WriteLine("notice error " + n.Name + ": " + n.Reason); break;
                    case NoticeKind.Done: Console.WriteLine("notice done"); break;
                }
            };

            var client = new TileClient(host, port);
            if (!client.WaitUntilReady(30000))
            {
                Console.Error.WriteLine("mosaicd is not answering on " + host + ":" + port);
                return 2;
            }

            // What the map shows: these tiles jump ahead of everything else.
            int z;
            long x, y;
            if (TileName.TryParse(tiles[0], out z, out x, out y)) client.Viewport(z, x, y, x + 1, y + 1);

            // The tiles and the barrier on one connection: this returns when
            // all of them are finished (their notices are on the way).
            client.Request(tiles, barrier: true);
            Console.WriteLine("barrier: " + tiles.Count + " tiles finished");

            IList<Notice> got = listener.WaitFor(tiles, 60000);
            int failed = 0;
            foreach (Notice n in got) if (n.Kind == NoticeKind.Error) failed++;
            Console.WriteLine("all notices: " + (got.Count - failed) + " rendered, " + failed + " failed");

            if (stop)
            {
                string refusal = client.Stop();
                if (refusal.Trim().Length > 0) Console.WriteLine("stop refused: " + refusal.Trim());
                listener.WaitForDone(60000);
                Console.WriteLine("finished");
            }
        }
        return 0;
    }
}
