/**
 * The cursor of SCAN, HSCAN, SSCAN and ZSCAN over a dense array of positions.
 *
 * @module
 */

/**
 * One step of a cursor walk over positions `cursor - 1` down to 0 (cursor 0 starts at the end).
 * Returns the positions visited, in order, and the next cursor (0 when the walk is complete).
 */
export function scanPositions(
  cursor: number,
  size: number,
  count: number,
): { positions: number[]; next: number } {
  let position = cursor === 0 || cursor > size ? size : cursor;
  const positions: number[] = [];
  while (position > 0 && positions.length < count) positions.push(--position);
  return { positions, next: position };
}
