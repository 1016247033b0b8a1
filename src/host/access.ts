/**
 * FMS access levels (Client.readAccess / writeAccess / audioSampleAccess / videoSampleAccess): a
 * semicolon-separated list of URI prefixes. "/" grants everything; "a/b" grants "a/b" and everything under
 * it ("a/b/c", "a/b" itself) but not "a/bc". Stream and shared object names are matched without prefixes
 * like "mp4:" and without a leading slash.
 */
export function normalizeAccessPath(name: string): string {
  let n = name.replace(/^(mp4|mp3|id3|flv|raw|f4f):/i, '');
  n = n.replace(/\\/g, '/');
  while (n.startsWith('/')) n = n.slice(1);
  return n;
}

export function accessAllows(list: string, name: string): boolean {
  const path = normalizeAccessPath(name);
  for (const raw of list.split(';')) {
    const entry = raw.trim();
    if (entry === '') continue;
    if (entry === '/') return true;
    const prefix = normalizeAccessPath(entry).replace(/\/+$/, '');
    if (prefix === '') return true;
    if (path === prefix || path.startsWith(prefix + '/')) return true;
  }
  return false;
}
