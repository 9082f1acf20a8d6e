# Example 1 of the original design, chat with mixed content: a text, a small
# image and a 1.5 MB document in one message on /chat/room1 (the document
# travels by link: to FILESERVER_URL when set, else the JetStream Object Store).
#
#   JULIA_LOAD_PATH=bindings-julia:@stdlib NATS_URL=nats://localhost:4222 julia examples/julia/chat.jl
using NATSBridge

let
    subject = "/chat/room1/julia-$(getpid())"
    image_data = vcat(UInt8[0x89, 0x50, 0x4e, 0x47], UInt8.(0:255))
    large_file_data = UInt8[i % 251 for i in 0:1_499_999]
    fileserver_url = get(ENV, "FILESERVER_URL", "")
    bridge = Bridge(get(ENV, "NATS_URL", "nats://localhost:4222"))
    room = subscribe(bridge, subject)
    data = [("message_text", "Hello!", "text"),
            ("user_avatar", image_data, "image"),
            ("large_document", large_file_data, "binary")]
    smartsend(bridge, subject, data; fileserver_url = isempty(fileserver_url) ? nothing : fileserver_url)
    envelope = take!(room; timeout = 30)
    for (dataname, data, type) in envelope["payloads"]
        println("$dataname ($type): ", type == "text" ? data : "$(length(data)) bytes")
    end
    got = Dict(d => v for (d, v, _) in envelope["payloads"])
    got["message_text"] == "Hello!" || error("text")
    got["user_avatar"] == image_data || error("image")
    got["large_document"] == large_file_data || error("document")
    close(room)
    close(bridge)
    println("example ok: chat (text, image, 1.5 MB document by link)")
end
