//! vigie charts: accessible, printable SVG generated on the server (trend lines, stacked bars, burndown, sparklines). Pure.
