// A vision host driving mosaicd over the framed protocol.
//
//   mcs -target:library -out:Mosaicd.dll ../Mosaicd.cs
//   mcs -r:Mosaicd.dll -out:CameraClient.exe CameraClient.cs
//
//   # spawn `mosaicd stdio` as a child (stdin/stdout carry the frames):
//   mono CameraClient.exe --image photo.png --camera 2 --out results --tile 3_4_2 \
//        -- node /path/to/mosaicd/bin/mosaicd.js stdio --tiles-dir /tmp/tiles
//
//   # or talk to a running daemon over TCP:
//   mono CameraClient.exe --connect 127.0.0.1:12345 --image photo.png --out results
//
// It sends the image, prints class_name / score per result and writes each
// result PNG, then renders a tile and writes it too. A spawned child is asked
// to shut down at the end and its exit code is printed.

using System;
using System.Collections.Generic;
using System.IO;
using Mosaicd;

public static class CameraClient
{
    public static int Main(string[] args)
    {
        string connect = null, image = null, outDir = ".", tile = "3_4_2", model = null;
        int camera = 0;
        var spawn = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--")
            {
                for (i++; i < args.Length; i++) spawn.Add(args[i]);
                break;
            }
            switch (args[i])
            {
                case "--connect": connect = args[++i]; break;
                case "--image": image = args[++i]; break;
                case "--camera": camera = int.Parse(args[++i]); break;
                case "--model": model = args[++i]; break;
                case "--out": outDir = args[++i]; break;
                case "--tile": tile = args[++i]; break;
                default:
                    Console.Error.WriteLine("unknown argument " + args[i]);
                    return 2;
            }
        }
        if (connect == null && spawn.Count == 0)
        {
            Console.Error.WriteLine("usage: CameraClient [--connect HOST:PORT | -- PROGRAM ARGS...] [--image FILE] [--camera N] [--out DIR] [--tile Z_X_Y]");
            return 2;
        }
        Directory.CreateDirectory(outDir);

        FramedClient client;
        if (connect != null)
        {
            int colon = connect.LastIndexOf(':');
            string host = connect.Substring(0, colon);
            int port = int.Parse(connect.Substring(colon + 1));
            // The daemon may still be starting: wait until it answers (bounded).
            if (!new TileClient(host, port).WaitUntilReady(30000))
            {
                Console.Error.WriteLine("mosaicd is not answering on " + connect);
                return 2;
            }
            client = FramedClient.Connect(host, port);
            Console.WriteLine("connected to " + connect);
        }
        else
        {
            // stdout of the child is the protocol; its log lines go to our stderr.
            client = FramedClient.Spawn(spawn[0], FramedClient.QuoteArguments(spawn.GetRange(1, spawn.Count - 1)),
                line => Console.Error.WriteLine("[mosaicd] " + line));
            Console.WriteLine("spawned " + spawn[0]);
        }

        using (client)
        {
            FramedResponse pong = client.Ping();
            Console.WriteLine("ping: success=" + pong.Success + " request_id=" + pong.RequestId);

            if (image != null)
            {
                FramedResponse r = client.Process(File.ReadAllBytes(image), camera, model, "img-1");
                if (r.Success)
                {
                    Console.WriteLine("process: " + r.Results.Count + " results (request_id " + r.RequestId + ")");
                    foreach (FramedResult res in r.Results)
                    {
                        string file = Path.Combine(outDir, "result_" + res.ResultIndex + ".png");
                        if (res.Png != null) File.WriteAllBytes(file, res.Png);
                        Console.WriteLine(string.Format(System.Globalization.CultureInfo.InvariantCulture,
                            "result {0}: class_name={1} score={2:0.000} image={3}x{4} {5} -> {6}",
                            res.ResultIndex, res.ClassName, res.Score, res.ImageWidth, res.ImageHeight, res.ImageMode, file));
                    }
                }
                else
                {
                    Console.WriteLine("process failed: " + r.Error.Code + " " + r.Error.Message);
                }
            }

            FramedResponse t = client.Render(tile);
            if (t.Success && t.Results.Count == 1 && t.Results[0].Png != null)
            {
                string file = Path.Combine(outDir, tile + ".png");
                File.WriteAllBytes(file, t.Results[0].Png);
                int w, h;
                Png.TryGetSize(t.Results[0].Png, out w, out h);
                Console.WriteLine("render " + tile + ": " + w + "x" + h + " " + t.Results[0].Png.Length + " bytes -> " + file);
            }
            else
            {
                Console.WriteLine("render failed: " + (t.Error != null ? t.Error.ToString() : "no image"));
                return 1;
            }

            if (client.Child != null)
            {
                FramedResponse bye = client.Shutdown();
                Console.WriteLine("shutdown: success=" + bye.Success);
                Console.WriteLine("child exit code: " + client.WaitForExit(30000));
            }
        }
        return 0;
    }
}
