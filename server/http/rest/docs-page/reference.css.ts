/**
 * The stylesheet of the API reference at /api/docs (served as /api/docs/reference.css). A string
 * constant for the same reason as reference.js.ts: the edge build has no file system.
 */
export const REFERENCE_CSS = `/* The API reference at /api/docs: light by default, dark under prefers-color-scheme. */
:root {
  color-scheme: light dark;
  --bg: #ffffff;
  --bg-soft: #f5f6f8;
  --bg-code: #f0f2f5;
  --fg: #1b1f24;
  --fg-muted: #57606a;
  --border: #d0d7de;
  --accent: #0a58ca;
  --focus: #0a58ca;
  --get: #0b6e4f;
  --post: #1f5fbf;
  --put: #8a5a00;
  --patch: #7a3fb0;
  --delete: #b42318;
  --ok: #0b6e4f;
  --warn: #8a5a00;
  --bad: #b42318;
  --error-bg: #fdecea;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
  font-size: 15px;
  line-height: 1.5;
}

@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1216;
    --bg-soft: #171b21;
    --bg-code: #1e242c;
    --fg: #e6e9ee;
    --fg-muted: #9aa4b1;
    --border: #323a45;
    --accent: #7cb4ff;
    --focus: #7cb4ff;
    --get: #4cd39a;
    --post: #7cb4ff;
    --put: #f2c46b;
    --patch: #c9a2f2;
    --delete: #ff8a80;
    --ok: #4cd39a;
    --warn: #f2c46b;
    --bad: #ff8a80;
    --error-bg: #3a1c1a;
  }
}

* {
  box-sizing: border-box;
}

body {
  margin: 0;
  background: var(--bg);
  color: var(--fg);
}

a {
  color: var(--accent);
}

:focus-visible {
  outline: 2px solid var(--focus);
  outline-offset: 2px;
}

code,
pre,
textarea.code {
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 0.9em;
}

code {
  background: var(--bg-code);
  padding: 0.05em 0.3em;
  border-radius: 4px;
  overflow-wrap: anywhere;
}

pre.code {
  background: var(--bg-code);
  border: 1px solid var(--border);
  border-radius: 6px;
  padding: 0.75rem;
  overflow: auto;
  max-height: 28rem;
  white-space: pre;
}

pre.code code {
  background: none;
  padding: 0;
}

.skip {
  position: absolute;
  left: -999px;
}

.skip:focus {
  left: 0.5rem;
  top: 0.5rem;
  background: var(--bg);
  padding: 0.25rem 0.5rem;
  z-index: 10;
}

.top {
  display: flex;
  flex-wrap: wrap;
  align-items: baseline;
  gap: 0.75rem;
  padding: 0.75rem 1.25rem;
  border-bottom: 1px solid var(--border);
  background: var(--bg-soft);
}

.top h1 {
  font-size: 1.15rem;
  margin: 0;
}

.top .spacer {
  flex: 1;
}

.layout {
  display: grid;
  grid-template-columns: minmax(16rem, 22rem) minmax(0, 1fr);
  min-height: calc(100vh - 3.5rem);
}

.sidebar {
  border-right: 1px solid var(--border);
  padding: 1rem;
  background: var(--bg-soft);
  position: sticky;
  top: 0;
  align-self: start;
  max-height: 100vh;
  overflow: auto;
}

.sidebar label {
  display: block;
  font-weight: 600;
  margin-bottom: 0.25rem;
}

input,
select,
textarea {
  width: 100%;
  padding: 0.45rem 0.55rem;
  border: 1px solid var(--border);
  border-radius: 6px;
  background: var(--bg);
  color: var(--fg);
  font: inherit;
}

textarea.code {
  resize: vertical;
}

.filter-status {
  color: var(--fg-muted);
  font-size: 0.85rem;
  margin: 0.35rem 0 0.75rem;
}

.tag-name {
  font-size: 0.8rem;
  text-transform: uppercase;
  letter-spacing: 0.06em;
  color: var(--fg-muted);
  margin: 1rem 0 0.25rem;
}

.tag-description {
  font-size: 0.8rem;
  color: var(--fg-muted);
  margin: 0 0 0.4rem;
}

.op-list {
  list-style: none;
  margin: 0;
  padding: 0;
}

.op-link {
  display: block;
  padding: 0.35rem 0.5rem;
  border-radius: 6px;
  color: var(--fg);
  text-decoration: none;
}

.op-link:hover {
  background: var(--bg-code);
}

.op-link[aria-current='page'] {
  background: var(--bg-code);
  box-shadow: inset 3px 0 0 var(--accent);
}

.op-path {
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 0.85rem;
  overflow-wrap: anywhere;
}

.op-summary {
  display: block;
  font-size: 0.8rem;
  color: var(--fg-muted);
}

.method {
  display: inline-block;
  min-width: 3.6em;
  font-size: 0.72rem;
  font-weight: 700;
  letter-spacing: 0.03em;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}

.method-get {
  color: var(--get);
}

.method-post {
  color: var(--post);
}

.method-put {
  color: var(--put);
}

.method-patch {
  color: var(--patch);
}

.method-delete {
  color: var(--delete);
}

main {
  padding: 1.25rem 2rem 3rem;
  max-width: 60rem;
}

main:focus {
  outline: none;
}

.operation-title {
  font-size: 1.35rem;
  margin: 0 0 0.25rem;
}

.operation-title .method {
  font-size: 1rem;
}

.operation-title code {
  background: none;
  padding: 0;
}

.summary {
  font-size: 1.05rem;
  margin-top: 0;
}

.facts {
  display: grid;
  grid-template-columns: max-content 1fr;
  gap: 0.3rem 1rem;
  margin: 0.75rem 0;
}

.facts dt {
  font-weight: 600;
}

.facts dd {
  margin: 0;
}

.facts dd p,
.prose p {
  margin: 0 0 0.5rem;
}

.block {
  margin-top: 1.75rem;
}

.block h3 {
  border-bottom: 1px solid var(--border);
  padding-bottom: 0.3rem;
}

h4 {
  margin: 1rem 0 0.4rem;
  font-size: 0.95rem;
}

.badge {
  display: inline-block;
  font-size: 0.72rem;
  border: 1px solid var(--border);
  border-radius: 999px;
  padding: 0 0.5rem;
  margin-left: 0.4rem;
  color: var(--fg-muted);
  font-weight: 500;
  vertical-align: middle;
}

.badge-required {
  color: var(--bad);
  border-color: var(--bad);
}

.schema-box {
  border: 1px solid var(--border);
  border-radius: 6px;
  padding: 0.5rem 0.75rem;
}

.schema {
  list-style: none;
  margin: 0;
  padding-left: 1rem;
  border-left: 1px dashed var(--border);
}

.schema-root,
.schema-box > .schema {
  padding-left: 0;
  border-left: none;
}

.schema-node {
  padding: 0.3rem 0;
}

.schema-line {
  display: flex;
  flex-wrap: wrap;
  align-items: baseline;
  gap: 0.2rem 0.5rem;
  margin: 0;
}

.schema-name {
  font-weight: 600;
}

.schema-type {
  color: var(--fg-muted);
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 0.85rem;
}

.constraint {
  font-size: 0.8rem;
  color: var(--fg-muted);
}

.schema-description {
  color: var(--fg-muted);
  font-size: 0.9rem;
}

.schema-description p {
  margin: 0.15rem 0;
}

.response {
  border: 1px solid var(--border);
  border-radius: 6px;
  padding: 0.4rem 0.75rem;
  margin: 0.5rem 0;
}

.response summary {
  cursor: pointer;
}

.status {
  font-weight: 700;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}

.status-2xx {
  color: var(--ok);
}

.status-3xx,
.status-4xx {
  color: var(--warn);
}

.status-5xx,
.status-1xx {
  color: var(--bad);
}

.try {
  background: var(--bg-soft);
  border: 1px solid var(--border);
  border-radius: 8px;
  padding: 0 1rem 1rem;
}

.try h3 {
  border-bottom: none;
}

.field {
  margin: 0.6rem 0;
}

.field label {
  display: block;
  font-weight: 600;
  margin-bottom: 0.2rem;
}

.hint,
.muted {
  color: var(--fg-muted);
  font-size: 0.85rem;
  margin: 0.25rem 0;
}

.row {
  margin: 0.6rem 0;
}

button {
  font: inherit;
  border-radius: 6px;
  padding: 0.45rem 0.9rem;
  cursor: pointer;
  border: 1px solid var(--border);
  background: var(--bg);
  color: var(--fg);
}

button.primary {
  background: var(--accent);
  border-color: var(--accent);
  color: var(--bg);
  font-weight: 600;
}

button:disabled {
  opacity: 0.6;
  cursor: progress;
}

.status-line {
  font-size: 1.05rem;
}

.error {
  background: var(--error-bg);
  color: var(--bad);
  border-radius: 6px;
  padding: 0.5rem 0.75rem;
}

.error p {
  margin: 0.2rem 0;
}

[hidden] {
  display: none !important;
}

@media (max-width: 50rem) {
  .layout {
    grid-template-columns: 1fr;
  }

  .sidebar {
    position: static;
    max-height: none;
    border-right: none;
    border-bottom: 1px solid var(--border);
  }

  main {
    padding: 1rem;
  }
}
`;
