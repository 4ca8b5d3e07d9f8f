// The footer: the keys, which panel has focus and where the selection is.
import { Text } from "ink";
import { useTheme } from "./theme.ts";
import type { Focus } from "./ui-state.ts";

export interface KeyHelpProps {
  focus: Focus;
  detailsShown: boolean;
  /** 1-based selected row and the row count, shown when the table scrolls. */
  position: { selected: number; count: number } | null;
}

export function KeyHelp({ focus, detailsShown, position }: KeyHelpProps) {
  const theme = useTheme();
  const where = position ? `  node ${position.selected}/${position.count}` : "";
  return (
    <Text wrap="truncate" color={theme.hue("gray")}>
      {`↑↓/jk ${focus === "nodes" ? "select" : "scroll"}  enter ${detailsShown ? "hide" : "show"} details  tab focus: ${focus}  q quit${where}`}
    </Text>
  );
}
