await smartsend("/topic", [
{ dataname: "message", data: "Hello", type: "text" }
]);
