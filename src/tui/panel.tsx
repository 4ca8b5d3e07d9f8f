// A bordered panel. The focused one has a double border (and colour), so focus shows without colour.
import { Box, Text } from "ink";
import type { ReactNode } from "react";
import { useTheme } from "./theme.ts";

export interface PanelProps {
  title?: string;
  focused?: boolean;
  height?: number;
  width?: number;
  flexGrow?: number;
  children: ReactNode;
}

export function Panel({ title, focused = false, height, width, flexGrow, children }: PanelProps) {
  const theme = useTheme();
  return (
    <Box
      flexDirection="column"
      borderStyle={focused ? "double" : "round"}
      borderColor={theme.hue(focused ? "cyan" : "gray")}
      height={height}
      width={width}
      flexGrow={flexGrow}
      // A growing panel takes the room left over, never the width of its longest line.
      flexBasis={flexGrow ? 0 : undefined}
      flexShrink={0}
      paddingX={1}
      overflow="hidden"
    >
      {title === undefined ? null : (
        <Text bold={theme.emphasis} wrap="truncate">
          {title}
        </Text>
      )}
      {children}
    </Box>
  );
}
