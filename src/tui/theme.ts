// Colour for the monitor, or none at all: with NO_COLOR every component renders plain text, so the
// screen must read without colour (state words, markers, border styles carry the meaning).
import { createContext, useContext } from "react";
import type { NodeState } from "./cluster-model.ts";

export type Hue = "green" | "yellow" | "red" | "cyan" | "magenta" | "blue" | "gray";

export interface Theme {
  /** The colour to pass to Ink, or undefined when colour is off. */
  hue(hue: Hue): Hue | undefined;
  /** Whether bold, dim and inverse may be used (they are escapes too). */
  emphasis: boolean;
}

export function makeTheme(color: boolean): Theme {
  return { hue: (hue) => (color ? hue : undefined), emphasis: color };
}

/** https://no-color.org: a NO_COLOR that is present and not empty turns colour off. */
export function colorWanted(env: NodeJS.ProcessEnv): boolean {
  return !env.NO_COLOR;
}

export const STATE_HUES: Record<NodeState, Hue> = { alive: "green", suspect: "yellow", down: "red" };

export const ThemeContext = createContext<Theme>(makeTheme(false));

export function useTheme(): Theme {
  return useContext(ThemeContext);
}
