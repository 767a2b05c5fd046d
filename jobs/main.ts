// Placeholder entry until the topology program lands.
console.error('topology program not built yet');
process.exit(1);
