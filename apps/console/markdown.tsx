// Markdown as agents and people write it (a summary, a plan, a dependency bump's table), shown as
// Preact elements built from marked's tokens (its lexer only: marked never renders HTML here). No
// HTML from the text ever reaches the page (HTML in the text is shown as the text it is), images
// are shown as their alt text, and links go only to http(s) and mailto addresses. GitHub's
// flavour: tables, strikethrough, task lists.
import { Lexer, type Token, type Tokens } from 'marked';
import type { ComponentChildren } from 'preact';

export function Markdown({ text }: { text: string }) {
  return <div class="markdown">{renderAll(new Lexer({ gfm: true }).lex(text))}</div>;
}

const safeUrl = (url: string) => /^(https?:\/\/|mailto:)/i.test(url);

const renderAll = (tokens: Token[] | undefined): ComponentChildren => (tokens ?? []).map(render);

/** A token's inline content: its own tokens, or its text when it has none. */
const inline = (token: { tokens?: Token[]; text?: string }): ComponentChildren => (token.tokens ? renderAll(token.tokens) : (token.text ?? ''));

function render(token: Token): ComponentChildren {
  switch (token.type) {
    case 'paragraph':
      return <p>{inline(token)}</p>;
    case 'heading': {
      // Under the section's own h2.
      const Heading = `h${Math.min(6, (token as Tokens.Heading).depth + 2)}` as 'h3';
      return <Heading>{inline(token)}</Heading>;
    }
    case 'text':
      return inline(token);
    case 'escape':
      return (token as Tokens.Escape).text;
    case 'html':
      return (token as Tokens.HTML).raw;
    case 'em':
      return <em>{inline(token)}</em>;
    case 'strong':
      return <strong>{inline(token)}</strong>;
    case 'del':
      return <del>{inline(token)}</del>;
    case 'codespan':
      return <code>{(token as Tokens.Codespan).text}</code>;
    case 'code':
      return (
        <pre>
          <code>{(token as Tokens.Code).text}</code>
        </pre>
      );
    case 'blockquote':
      return <blockquote>{renderAll((token as Tokens.Blockquote).tokens)}</blockquote>;
    case 'list': {
      const list = token as Tokens.List;
      const items = list.items.map((item) => (
        <li>
          {item.task ? (item.checked ? '☑ ' : '☐ ') : ''}
          {renderAll(item.tokens.filter((t) => t.type !== 'checkbox'))}
        </li>
      ));
      return list.ordered ? <ol start={typeof list.start === 'number' ? list.start : undefined}>{items}</ol> : <ul>{items}</ul>;
    }
    case 'hr':
      return <hr />;
    case 'br':
      return <br />;
    case 'space':
      return null;
    case 'link': {
      const link = token as Tokens.Link;
      return safeUrl(link.href) ? (
        <a href={link.href} rel="noopener noreferrer">
          {inline(link)}
        </a>
      ) : (
        inline(link)
      );
    }
    case 'image':
      return (token as Tokens.Image).text;
    case 'table': {
      const table = token as Tokens.Table;
      const align = (i: number) => (table.align[i] ? `align-${table.align[i]}` : undefined);
      return (
        <table class="md">
          <thead>
            <tr>
              {table.header.map((cell, i) => (
                <th class={align(i)}>{inline(cell)}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {table.rows.map((row) => (
              <tr>
                {row.map((cell, i) => (
                  <td class={align(i)}>{inline(cell)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      );
    }
    default:
      // Anything else: its source text, never markup.
      return 'raw' in token ? String(token.raw) : null;
  }
}
