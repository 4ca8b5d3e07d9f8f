// A span of time as a person reads it in a sentence or a status line: the two largest units.

/** "45 s", "3 min 12 s", "2 h 5 min", "3 d 4 h" (seconds rounded). */
export function formatTimeSpan(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}
