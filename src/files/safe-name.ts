/**
 * The last part of a file name, whatever folders, separators or control
 * characters it came with: "../../.bashrc" → ".bashrc", "a\\b.txt" → "b.txt".
 * Empty when nothing usable is left ("..", "/").
 */
export function safeFileName(name: string): string {
  const last = name.split(/[/\\]/).pop() ?? '';
  const clean = last.replace(/[\u0000-\u001F\u007F-\u009F]/g, '').trim();
  return clean === '.' || clean === '..' ? '' : clean;
}
