// @ts-check
function ssasByteArray(S) {}
