const { smartsend } = require('natsbridge');
const tableData = [
{ id: 1, name: "Alice", score: 95 },
{ id: 2, name: "Bob", score: 88 },
{ id: 3, name: "Charlie", score: 92 }
];
await smartsend("/data/analysis", [
{ dataname: "students", data: tableData, type: "table" }
]);
