import { describe, expect, it } from 'vitest';
import { MATCH_END, MATCH_START, escapeHtml, toHighlight } from '../../src/search/highlight.js';

describe('toHighlight', () => {
  const marked = (text: string) => `${MATCH_START}${text}${MATCH_END}`;

  it('escapes everything and wraps only the marked matches in <mark>', () => {
    expect(toHighlight(`a < b & ${marked('word')} "q" 'x' >`)).toBe('a &lt; b &amp; <mark>word</mark> &quot;q&quot; &#39;x&#39; &gt;');
  });

  it('escapes markup inside a match too', () => {
    expect(toHighlight(marked('<b>&amp;</b>'))).toBe('<mark>&lt;b&gt;&amp;amp;&lt;/b&gt;</mark>');
  });

  it('keeps the text exact otherwise: line breaks, tabs, emoji, right-to-left', () => {
    expect(toHighlight(`one\n\ttwo ${marked('😀')} مرحبا`)).toBe('one\n\ttwo <mark>😀</mark> مرحبا');
  });

  it('leaves a body with no match as escaped text, and an empty one empty', () => {
    expect(toHighlight('<script>alert(1)</script>')).toBe('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(toHighlight('')).toBe('');
  });

  it('escapes the five characters HTML gives meaning to, and nothing else', () => {
    expect(escapeHtml(`&<>"'/=\``)).toBe('&amp;&lt;&gt;&quot;&#39;/=`');
  });
});
