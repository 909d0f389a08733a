/**
 * Arrow keys between a search box and its result buttons: Down from the box to the first
 * result, Down and Up through the results, Up from the first back to the box.
 */
export function arrowKeysThroughResults(input: HTMLInputElement, results: HTMLElement): void {
  input.addEventListener('keydown', (event) => {
    const first = event.key === 'ArrowDown' ? results.querySelector('button') : null;
    if (!first) return;
    event.preventDefault();
    first.focus();
  });
  results.addEventListener('keydown', (event) => {
    const buttons = Array.from(results.querySelectorAll('button'));
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (index < 0) return;
    if (event.key === 'ArrowDown' && buttons[index + 1]) buttons[index + 1]!.focus();
    else if (event.key === 'ArrowUp') (buttons[index - 1] ?? input).focus();
    else return;
    event.preventDefault();
  });
}
