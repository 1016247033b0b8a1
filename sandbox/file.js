// @ts-check
function ssasFile(S) {}
