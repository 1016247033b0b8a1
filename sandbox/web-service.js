// @ts-check
function ssasWebService(S) {}
