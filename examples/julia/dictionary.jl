# Example 2 of the original design, dictionary exchange: a configuration sent
# on /device/config as a dictionary and received as a Dict.
#
#   JULIA_LOAD_PATH=bindings-julia:@stdlib NATS_URL=nats://localhost:4222 julia examples/julia/dictionary.jl
using NATSBridge

let
    subject = "/device/config/julia-$(getpid())"
    config = Dict("wifi_ssid" => "MyNetwork", "wifi_password" => "password123", "update_interval" => 60)
    bridge = Bridge(get(ENV, "NATS_URL", "nats://localhost:4222"))
    inbox = subscribe(bridge, subject)
    smartsend(bridge, subject, [("config", config, "dictionary")])
    envelope = take!(inbox; timeout = 30)
    dataname, data, type = envelope["payloads"][1]
    println("$dataname ($type): $data")
    data == config || error("the dictionary differs")
    close(inbox)
    close(bridge)
    println("example ok: dictionary")
end
