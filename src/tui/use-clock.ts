// The current time, refreshed every second, so ages and the sparkline window move on with no new data.
import { useEffect, useState } from "react";

export function useClock(intervalMs = 1_000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
