// Waiting: the one sleep the program uses.

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
