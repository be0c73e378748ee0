import { MAX_TOKENS_PER_NODE, SLOT_COUNT } from "./constants.ts";

/** Throws unless `slot` is an integer slot number. */
export function checkSlot(slot: number, action: string): void {
  if (!(Number.isInteger(slot) && slot >= 0 && slot < SLOT_COUNT)) {
    throw new RangeError(
      `Cannot ${action}: a slot must be an integer from 0 to ${SLOT_COUNT - 1}: ` +
        `current value is ${slot}`,
    );
  }
}

/** Throws unless `tokensPerNode` is in range. */
export function checkTokensPerNode(tokensPerNode: number, action: string): void {
  if (
    !(Number.isInteger(tokensPerNode) && tokensPerNode >= 1 &&
      tokensPerNode <= MAX_TOKENS_PER_NODE)
  ) {
    throw new RangeError(
      `Cannot ${action}: 'tokensPerNode' must be an integer from 1 to ${MAX_TOKENS_PER_NODE}: ` +
        `current value is ${tokensPerNode}`,
    );
  }
}
