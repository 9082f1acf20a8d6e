# The Julia examples of the original design
# (/work/shared/original-design/NATSBridge-README.md), run as written inside
# `let` blocks. Where they differ, it says so:
# - `nats_url="nats://localhost:4222"` and `fileserver_url="http://localhost:8080"`
#   name the servers of the design's Quick Start; here they are the test
#   servers' URLs (NATS_URL, FILESERVER_URL), the only change to those lines.
#   Calls without nats_url use $NATS_URL, set to the test server.
# - Example 3 uses DataFrames, which is not installable here (no package
#   registry): a NamedTuple of the same columns stands in for the DataFrame;
#   a DataFrame goes through the same route (propertynames + column access).
# - `msg` is a message read off NATS by a raw subscriber (plain NATS protocol
#   over Sockets, standing in for NATS.jl's Msg), and
#   `fileserverDownloadHandler` a handler over an in-memory store.

using Sockets

"Reads raw NATS messages of `subject` (the protocol's SUB/MSG) into a Channel of `Msg`."
function raw_subscribe(url::AbstractString, subject::AbstractString)
    m = match(r"nats://([^:/]+):(\d+)", url)
    sock = connect(m.captures[1], parse(Int, m.captures[2]))
    readline(sock)                                   # INFO {...}
    write(sock, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB $(subject) 1\r\nPING\r\n")
    while true
        line = readline(sock)
        line == "PONG" && break
        startswith(line, "-ERR") && error(line)
    end
    channel = Channel{Msg}(16)
    @async try
        while isopen(sock)
            line = readline(sock)
            if line == "PING"
                write(sock, "PONG\r\n")
            elseif startswith(line, "MSG ")
                parts = split(line)
                reply = length(parts) == 5 ? String(parts[4]) : ""
                data = read(sock, parse(Int, parts[end]))
                readline(sock)                       # the \r\n after the payload
                put!(channel, Msg(data; subject = String(parts[2]), reply = reply))
            end
        end
    catch
    finally
        close(channel)
    end
    return channel, sock
end

const EXAMPLE_STORE = Dict{String,Vector{UInt8}}()
fileserverDownloadHandler(url, max_retries, base_delay, max_delay) = EXAMPLE_STORE[url]

@testset "the original design's Julia examples" begin
    @testset "Quick Start: send, then receive" begin
        inbox, sock = raw_subscribe(NATS_URL, "/chat/room1")
        printed = let
            # --- as in "Step 3: Send Your First Message" (nats_url: the test server)
            data = [("message", "Hello World", "text")]
            env = NATSBridge.smartsend("/chat/room1", data, nats_url=NATS_URL)
            println("Message sent!")
            @test env["payloads"][1]["dataname"] == "message"
            msg = take!(inbox)
            # --- as in "Step 4: Receive Messages", Julia
            out = IOBuffer()
            envelope = NATSBridge.smartreceive(msg, fileserverDownloadHandler)
            for (dataname, data, type) in envelope["payloads"]
                println(out, "Received $dataname: $data")
            end
            String(take!(out))
        end
        @test printed == "Received message: Hello World\n"
        close(sock)
    end

    @testset "Direct and link transport" begin
        inbox, sock = raw_subscribe(NATS_URL, "/topic")
        large_data = rand(UInt8, 1_500_000)
        let
            data = [("message", "Hello", "text")]
            smartsend("/topic", data)
        end
        let
            data = [("file", large_data, "binary")]
            smartsend("/topic", data, fileserver_url=FILESERVER_URL)
        end
        first_msg = NATSBridge.smartreceive(take!(inbox))
        @test first_msg["payloads"] == [("message", "Hello", "text")]
        second = NATSBridge.smartreceive(take!(inbox))
        @test second["payloads"] == [("file", large_data, "binary")]
        @test second["payload_info"][1]["transport"] == "link"
        close(sock)
    end

    @testset "Example 1: chat with mixed content" begin
        inbox, sock = raw_subscribe(NATS_URL, "/chat/room1")
        image_data = rand(UInt8, 2048)
        large_file_data = rand(UInt8, 1_200_000)
        let
            data = [
            ("message_text", "Hello!", "text"),
            ("user_avatar", image_data, "image"),
            ("large_document", large_file_data, "binary")
            ]
            NATSBridge.smartsend("/chat/room1", data, fileserver_url=FILESERVER_URL)
        end
        env = NATSBridge.smartreceive(take!(inbox))
        @test env["payloads"] == [("message_text", "Hello!", "text"), ("user_avatar", image_data, "image"),
                                  ("large_document", large_file_data, "binary")]
        @test [i["transport"] for i in env["payload_info"]] == ["direct", "direct", "link"]
        close(sock)
    end

    @testset "Example 2: dictionary exchange" begin
        inbox, sock = raw_subscribe(NATS_URL, "/device/config")
        let
            config = Dict(
            "wifi_ssid" => "MyNetwork",
            "wifi_password" => "password123",
            "update_interval" => 60
            )
            data = [("config", config, "dictionary")]
            NATSBridge.smartsend("/device/config", data)
        end
        env = NATSBridge.smartreceive(take!(inbox))
        @test env["payloads"][1][2] == Dict("wifi_ssid" => "MyNetwork", "wifi_password" => "password123",
                                            "update_interval" => 60)
        close(sock)
    end

    @testset "Example 3: table data (a NamedTuple stands in for the DataFrame)" begin
        inbox, sock = raw_subscribe(NATS_URL, "/data/analysis")
        let
            # using DataFrames
            # df = DataFrame(
            df = (
            id = [1, 2, 3],
            name = ["Alice", "Bob", "Charlie"],
            score = [95, 88, 92]
            )
            data = [("students", df, "table")]
            NATSBridge.smartsend("/data/analysis", data)
        end
        t = NATSBridge.smartreceive(take!(inbox))["payloads"][1][2]
        @test t.id == [1, 2, 3] && t.name == ["Alice", "Bob", "Charlie"] && t.score == [95, 88, 92]
        close(sock)
    end

    @testset "Example 4: request-response (requester and responder)" begin
        commands, sock = raw_subscribe(NATS_URL, "/device/command")
        listener = Bridge(NATS_URL)
        responses = subscribe(listener, "/device/response")
        let
            env = NATSBridge.smartsend(
            "/device/command",
            [("command", Dict("action" => "read_sensor"), "dictionary")],
            reply_to="/device/response"
            )
            @test env["reply_to"] == "/device/response"
        end
        msg = take!(commands)
        let
            envelope = NATSBridge.smartreceive(msg, fileserverDownloadHandler)
            for (dataname, data, type) in envelope["payloads"]
            if dataname == "command" && data["action"] == "read_sensor"
            response = Dict("sensor_id" => "sensor-001", "value" => 42.5)
            smartsend("/device/response", [("data", response, "dictionary")])
            end
            end
        end
        answer = take!(responses; timeout = 10)
        @test answer["payloads"][1] == ("data", Dict("sensor_id" => "sensor-001", "value" => 42.5), "dictionary")
        close(listener)
        close(sock)
    end
end
