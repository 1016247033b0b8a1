// @ts-check
function ssasXmlSocket(S) {}
