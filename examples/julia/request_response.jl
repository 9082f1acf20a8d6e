# Example 4 of the original design, request-response: a responder answers
# Dict("action" => "read_sensor") on /device/command with a sensor reading;
# the requester sends the command and waits for the answer.
#
#   JULIA_LOAD_PATH=bindings-julia:@stdlib NATS_URL=nats://localhost:4222 julia examples/julia/request_response.jl
#
# The responder is a task here; tests/interop/ runs every language pair.
using NATSBridge

let
    subject = "/device/command/julia-$(getpid())"
    bridge = Bridge(get(ENV, "NATS_URL", "nats://localhost:4222"))
    commands = subscribe(bridge, subject)
    responder = @async begin
        envelope = take!(commands; timeout = 30)
        for (dataname, data, type) in envelope["payloads"]
            if dataname == "command" && data["action"] == "read_sensor"
                response = Dict("sensor_id" => "sensor-001", "value" => 42.5)
                reply(bridge, envelope, [("data", response, "dictionary")])
            end
        end
    end
    answer = request(bridge, subject, [("command", Dict("action" => "read_sensor"), "dictionary")]; timeout = 30)
    wait(responder)
    dataname, data, _ = answer["payloads"][1]
    println("reply to $(answer["reply_to_msg_id"]): $dataname = $data")
    data == Dict("sensor_id" => "sensor-001", "value" => 42.5) || error("the reply differs")
    close(commands)
    close(bridge)
    println("example ok: request-response")
end
