/**
 * The script of the API reference at /api/docs (served as /api/docs/reference.js): plain browser
 * JavaScript, no framework, no build step. A string constant rather than a file so that the edge
 * build, which has no file system, serves it too. It must hold no backquote and no dollar-brace
 * (it sits in a template literal); tests/integration/api-docs.test.ts parses it.
 */
export const REFERENCE_JS = String.raw`// The interactive reference of /api/openapi.json. Every string of the document is shown as text
// (textContent, createTextNode): descriptions come from route tables and schemas that people
// write, so none of it may become markup. No inline handlers, no HTML parsing, no code from text.
(function () {
  'use strict';

  var DOCUMENT_URL = '/api/openapi.json';
  var KEY_STORAGE = 'bc-api-reference-key';
  var SHOWN_HEADERS = ['RateLimit', 'RateLimit-Policy', 'Retry-After', 'X-Request-Id', 'Content-Type'];
  var MAX_DEPTH = 12;
  var METHODS = ['get', 'post', 'put', 'patch', 'delete'];
  var BACKQUOTE = '\x60';

  var spec = null;
  var operations = [];
  var byId = new Map();

  // ---- DOM helpers --------------------------------------------------------------------------

  /** An element with attributes (strings only, set as attributes) and children (nodes or text). */
  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    if (attributes) {
      Object.keys(attributes).forEach(function (name) {
        var value = attributes[name];
        if (value === undefined || value === null || value === false) return;
        if (name === 'text') node.textContent = String(value);
        else node.setAttribute(name, value === true ? '' : String(value));
      });
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    if (children === undefined || children === null) return node;
    if (!Array.isArray(children)) children = [children];
    children.forEach(function (child) {
      if (child === undefined || child === null || child === false) return;
      if (Array.isArray(child)) append(node, child);
      else node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function isObject(value) {
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  }

  function str(value) {
    return typeof value === 'string' ? value : '';
  }

  /** A safe id fragment for elements we label (never used as markup). */
  var idCount = 0;
  function newId(prefix) {
    idCount += 1;
    return prefix + '-' + idCount;
  }

  // ---- Minimal Markdown: paragraphs, **bold**, code in backquotes; everything else is text ------------

  function inline(text) {
    var nodes = [];
    var parts = String(text).split(/(\*\*[^*]+\*\*|\x60[^\x60]+\x60)/);
    parts.forEach(function (part) {
      if (!part) return;
      if (part.length > 4 && part.slice(0, 2) === '**' && part.slice(-2) === '**')
        nodes.push(el('strong', { text: part.slice(2, -2) }));
      else if (part.length > 2 && part.charAt(0) === BACKQUOTE && part.charAt(part.length - 1) === BACKQUOTE)
        nodes.push(el('code', { text: part.slice(1, -1) }));
      else nodes.push(document.createTextNode(part));
    });
    return nodes;
  }

  function paragraphsOf(text) {
    return String(text)
      .split(/\n\s*\n/)
      .map(function (p) {
        return p.trim();
      })
      .filter(Boolean);
  }

  function markdown(text, className) {
    var box = el('div', { class: className || 'prose' });
    paragraphsOf(text).forEach(function (p) {
      box.appendChild(el('p', null, inline(p)));
    });
    return box;
  }

  // ---- The document -------------------------------------------------------------------------

  /** Follows a local $ref (#/components/...); anything else stays as it is. */
  function resolve(schema, seen) {
    var hops = 0;
    while (isObject(schema) && typeof schema.$ref === 'string' && hops < MAX_DEPTH) {
      var ref = schema.$ref;
      if (ref.charAt(0) !== '#' || (seen && seen.indexOf(ref) >= 0)) return schema;
      var target = spec;
      var segments = ref.slice(1).split('/').slice(1);
      for (var i = 0; i < segments.length; i++) {
        var key = decodeURIComponent(segments[i]).replace(/~1/g, '/').replace(/~0/g, '~');
        if (!isObject(target) || !Object.prototype.hasOwnProperty.call(target, key)) return schema;
        target = target[key];
      }
      if (seen) seen = seen.concat([ref]);
      schema = target;
      hops += 1;
    }
    return schema;
  }

  function collectOperations() {
    var list = [];
    var paths = isObject(spec.paths) ? spec.paths : {};
    Object.keys(paths).forEach(function (path) {
      var item = paths[path];
      if (!isObject(item)) return;
      METHODS.forEach(function (method) {
        var op = item[method];
        if (!isObject(op)) return;
        var id = str(op.operationId) || method + ' ' + path;
        var tags = Array.isArray(op.tags) && op.tags.length > 0 ? op.tags.map(String) : ['other'];
        list.push({
          id: id,
          method: method.toUpperCase(),
          path: path,
          op: op,
          tag: tags[0],
          summary: str(op.summary),
          parameters: (Array.isArray(op.parameters) ? op.parameters : [])
            .concat(Array.isArray(item.parameters) ? item.parameters : [])
            .map(function (p) {
              return resolve(p, []);
            })
            .filter(isObject),
        });
      });
    });
    return list;
  }

  function searchText(operation) {
    return [operation.method, operation.path, operation.summary, operation.id, operation.tag]
      .join(' ')
      .toLowerCase();
  }

  // ---- Sidebar ------------------------------------------------------------------------------

  function renderSidebar() {
    var container = document.getElementById('operations');
    clear(container);
    var groups = new Map();
    var tagInfo = new Map();
    (Array.isArray(spec.tags) ? spec.tags : []).forEach(function (tag) {
      if (isObject(tag) && typeof tag.name === 'string') {
        tagInfo.set(tag.name, tag);
        groups.set(tag.name, []);
      }
    });
    operations.forEach(function (operation) {
      if (!groups.has(operation.tag)) groups.set(operation.tag, []);
      groups.get(operation.tag).push(operation);
    });
    groups.forEach(function (list, tag) {
      if (list.length === 0) return;
      var headingId = newId('tag');
      var ul = el('ul', { class: 'op-list', 'aria-labelledby': headingId });
      list.forEach(function (operation) {
        var link = el('a', { href: '#' + encodeURIComponent(operation.id), class: 'op-link' }, [
          el('span', { class: 'method method-' + operation.method.toLowerCase(), text: operation.method }),
          ' ',
          el('span', { class: 'op-path', text: operation.path }),
          operation.summary ? el('span', { class: 'op-summary', text: operation.summary }) : null,
        ]);
        var li = el('li', { 'data-operation': operation.id }, link);
        operation.item = li;
        operation.link = link;
        operation.search = searchText(operation);
        ul.appendChild(li);
      });
      var info = tagInfo.get(tag);
      var group = el('section', { class: 'op-group' }, [
        el('h2', { id: headingId, class: 'tag-name', text: tag }),
        info && typeof info.description === 'string'
          ? el('p', { class: 'tag-description', text: info.description })
          : null,
        ul,
      ]);
      container.appendChild(group);
      list.forEach(function (operation) {
        operation.group = group;
      });
    });
  }

  function applyFilter() {
    var query = document.getElementById('filter').value.trim().toLowerCase();
    var words = query.split(/\s+/).filter(Boolean);
    var shown = 0;
    var groupsShown = new Set();
    operations.forEach(function (operation) {
      var match = words.every(function (word) {
        return operation.search.indexOf(word) >= 0;
      });
      operation.item.hidden = !match;
      if (match) {
        shown += 1;
        groupsShown.add(operation.group);
      }
    });
    operations.forEach(function (operation) {
      operation.group.hidden = !groupsShown.has(operation.group);
    });
    var status = document.getElementById('filter-status');
    status.textContent = words.length === 0
      ? operations.length + ' operations'
      : shown === 0
        ? 'No operation matches \u201c' + query + '\u201d'
        : shown + ' of ' + operations.length + ' operations';
  }

  function markCurrent(current) {
    operations.forEach(function (operation) {
      if (operation === current) operation.link.setAttribute('aria-current', 'page');
      else operation.link.removeAttribute('aria-current');
    });
  }

  // ---- Schema tree --------------------------------------------------------------------------

  function typeLabel(schema) {
    schema = resolve(schema, []);
    if (!isObject(schema)) return 'any';
    if (schema.const !== undefined) return 'constant ' + JSON.stringify(schema.const);
    var type = schema.type;
    if (Array.isArray(type)) {
      return type
        .map(function (t) {
          return t === 'array' ? arrayLabel(schema) : String(t);
        })
        .join(' | ');
    }
    if (type === 'array') return arrayLabel(schema);
    if (typeof type === 'string') return type;
    var variants = schema.anyOf || schema.oneOf;
    if (Array.isArray(variants)) return variants.map(typeLabel).join(' | ');
    if (Array.isArray(schema.allOf)) return schema.allOf.map(typeLabel).join(' & ');
    if (isObject(schema.properties)) return 'object';
    if (Array.isArray(schema.enum)) return 'enum';
    return 'any';
  }

  function arrayLabel(schema) {
    return schema.items === undefined ? 'array' : 'array of ' + typeLabel(schema.items);
  }

  function constraintsOf(schema) {
    var facts = [];
    if (Array.isArray(schema.enum))
      facts.push(['one of', schema.enum.map(function (v) { return JSON.stringify(v); }).join(' | ')]);
    if (typeof schema.format === 'string') facts.push(['format', schema.format]);
    if (typeof schema.pattern === 'string') facts.push(['pattern', schema.pattern]);
    if (typeof schema.minimum === 'number') facts.push(['min', '\u2265 ' + schema.minimum]);
    if (typeof schema.exclusiveMinimum === 'number') facts.push(['min', '> ' + schema.exclusiveMinimum]);
    if (typeof schema.maximum === 'number') facts.push(['max', '\u2264 ' + schema.maximum]);
    if (typeof schema.exclusiveMaximum === 'number') facts.push(['max', '< ' + schema.exclusiveMaximum]);
    if (typeof schema.minLength === 'number') facts.push(['min length', String(schema.minLength)]);
    if (typeof schema.maxLength === 'number') facts.push(['max length', String(schema.maxLength)]);
    if (typeof schema.minItems === 'number') facts.push(['min items', String(schema.minItems)]);
    if (typeof schema.maxItems === 'number') facts.push(['max items', String(schema.maxItems)]);
    if (schema.uniqueItems === true) facts.push(['unique items', 'yes']);
    if (schema.default !== undefined) facts.push(['default', JSON.stringify(schema.default)]);
    if (schema.additionalProperties === false) facts.push(['other fields', 'refused']);
    return facts;
  }

  /**
   * anyOf/oneOf of one schema and null, as zod writes a nullable field: that schema, marked
   * nullable, so the tree shows one line rather than a variant.
   */
  function foldNullable(schema) {
    if (!isObject(schema)) return { schema: schema, nullable: false };
    var variants = schema.anyOf || schema.oneOf;
    if (!Array.isArray(variants)) return { schema: schema, nullable: false };
    var others = variants.filter(function (v) {
      return resolve(v, []).type !== 'null';
    });
    if (others.length !== 1 || others.length === variants.length) return { schema: schema, nullable: false };
    var inner = resolve(others[0], []);
    if (!isObject(inner)) return { schema: schema, nullable: false };
    var merged = {};
    Object.keys(inner).forEach(function (key) {
      merged[key] = inner[key];
    });
    if (typeof schema.description === 'string') merged.description = schema.description;
    if (schema.default !== undefined) merged.default = schema.default;
    return { schema: merged, nullable: true };
  }

  /** One line of the tree: name, type, required, constraints, description; children below. */
  function schemaNode(name, schema, required, depth, seen) {
    var raw = schema;
    schema = resolve(schema, seen);
    if (isObject(raw) && typeof raw.$ref === 'string') seen = seen.concat([raw.$ref]);
    var folded = foldNullable(schema);
    schema = folded.schema;
    var li = el('li', { class: 'schema-node' });
    var line = el('div', { class: 'schema-line' });
    if (name !== null) line.appendChild(el('code', { class: 'schema-name', text: name }));
    line.appendChild(el('span', { class: 'schema-type', text: typeLabel(schema) + (folded.nullable ? ' | null' : '') }));
    if (required) line.appendChild(el('span', { class: 'badge badge-required', text: 'required' }));
    if (isObject(schema)) {
      constraintsOf(schema).forEach(function (fact) {
        line.appendChild(el('span', { class: 'constraint' }, [fact[0] + ': ', el('code', { text: fact[1] })]));
      });
    }
    li.appendChild(line);
    if (isObject(schema) && typeof schema.description === 'string')
      li.appendChild(markdown(schema.description, 'schema-description'));
    var children = schemaChildren(schema, depth + 1, seen);
    if (children) li.appendChild(children);
    return li;
  }

  function schemaChildren(schema, depth, seen) {
    if (!isObject(schema)) return null;
    if (depth > MAX_DEPTH) return el('p', { class: 'muted', text: '\u2026 (nested deeper)' });
    var list = el('ul', { class: 'schema' });
    if (isObject(schema.properties)) {
      var required = Array.isArray(schema.required) ? schema.required : [];
      Object.keys(schema.properties).forEach(function (key) {
        list.appendChild(schemaNode(key, schema.properties[key], required.indexOf(key) >= 0, depth, seen));
      });
    }
    if (isObject(schema.additionalProperties))
      list.appendChild(schemaNode('<any name>', schema.additionalProperties, false, depth, seen));
    var items = resolve(schema.items, seen);
    if (isObject(items) && (isObject(items.properties) || items.anyOf || items.oneOf))
      list.appendChild(schemaNode('[item]', schema.items, false, depth, seen));
    var variants = schema.anyOf || schema.oneOf || schema.allOf;
    if (Array.isArray(variants)) {
      variants.forEach(function (variant, index) {
        var resolved = resolve(variant, seen);
        if (isObject(resolved) && (resolved.type === 'null' || (!resolved.properties && !resolved.items && !resolved.anyOf && !resolved.oneOf && constraintsOf(resolved).length === 0 && !resolved.description)))
          return;
        list.appendChild(schemaNode('variant ' + (index + 1), variant, false, depth, seen));
      });
    }
    return list.childNodes.length > 0 ? list : null;
  }

  function schemaTree(schema) {
    var resolved = resolve(schema, []);
    var root = el('ul', { class: 'schema schema-root' });
    if (isObject(resolved) && isObject(resolved.properties) && !resolved.anyOf && !resolved.oneOf) {
      var children = schemaChildren(resolved, 0, []);
      var box = el('div', { class: 'schema-box' }, [
        el('p', { class: 'schema-line' }, [
          el('span', { class: 'schema-type', text: 'object' }),
        ].concat(constraintsOf(resolved).map(function (fact) {
          return el('span', { class: 'constraint' }, [fact[0] + ': ', el('code', { text: fact[1] })]);
        }))),
      ]);
      if (typeof resolved.description === 'string') box.appendChild(markdown(resolved.description, 'schema-description'));
      box.appendChild(children || el('p', { class: 'muted', text: 'No fields.' }));
      return box;
    }
    root.appendChild(schemaNode(null, schema, false, 0, []));
    return el('div', { class: 'schema-box' }, root);
  }

  /** A body skeleton from a schema: every field, with a placeholder of its type. */
  function skeleton(schema, depth) {
    schema = resolve(schema, []);
    if (!isObject(schema) || depth > MAX_DEPTH) return null;
    if (schema.default !== undefined) return schema.default;
    if (schema.const !== undefined) return schema.const;
    if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
    if (schema.examples && Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
    var variants = schema.anyOf || schema.oneOf;
    if (Array.isArray(variants)) {
      var notNull = variants.filter(function (v) {
        return resolve(v, []).type !== 'null';
      });
      return skeleton(notNull[0] || variants[0], depth + 1);
    }
    var type = Array.isArray(schema.type)
      ? schema.type.filter(function (t) { return t !== 'null'; })[0] || 'null'
      : schema.type;
    if (type === 'object' || (type === undefined && isObject(schema.properties))) {
      var result = {};
      var properties = isObject(schema.properties) ? schema.properties : {};
      Object.keys(properties).forEach(function (key) {
        result[key] = skeleton(properties[key], depth + 1);
      });
      return result;
    }
    if (type === 'array') {
      var item = skeleton(schema.items, depth + 1);
      var count = typeof schema.minItems === 'number' && schema.minItems > 0 ? 1 : 0;
      return count > 0 || isObject(item) ? [item] : [];
    }
    if (type === 'string') return '';
    if (type === 'integer' || type === 'number')
      return typeof schema.minimum === 'number' ? schema.minimum : 0;
    if (type === 'boolean') return false;
    return null;
  }

  // ---- An operation -------------------------------------------------------------------------

  var WHO = /^\*\*Who may call it:\*\*\s*/;

  function renderIntro() {
    var main = document.getElementById('content');
    clear(main);
    markCurrent(null);
    var info = isObject(spec.info) ? spec.info : {};
    main.appendChild(el('h2', { class: 'page-title', text: str(info.title) || 'API reference' }));
    if (info.description) main.appendChild(markdown(info.description));
    var schemes = isObject(spec.components) && isObject(spec.components.securitySchemes)
      ? spec.components.securitySchemes
      : {};
    var names = Object.keys(schemes);
    if (names.length > 0) {
      main.appendChild(el('h3', { text: 'Authentication' }));
      var dl = el('dl', { class: 'facts' });
      names.forEach(function (name) {
        var scheme = schemes[name];
        if (!isObject(scheme)) return;
        var how = scheme.type === 'apiKey'
          ? 'header ' + str(scheme.name)
          : scheme.type === 'http'
            ? 'Authorization: ' + str(scheme.scheme)
            : str(scheme.type);
        dl.appendChild(el('dt', null, [el('code', { text: name }), ' (' + how + ')']));
        dl.appendChild(el('dd', null, markdown(str(scheme.description))));
      });
      main.appendChild(dl);
    }
    main.appendChild(el('p', { class: 'muted', text: operations.length + ' operations. Choose one on the left.' }));
  }

  function renderOperation(operation) {
    var main = document.getElementById('content');
    clear(main);
    markCurrent(operation);
    var op = operation.op;
    var article = el('article', { class: 'operation', 'aria-labelledby': 'operation-title' });
    article.appendChild(el('h2', { id: 'operation-title', class: 'operation-title' }, [
      el('span', { class: 'method method-' + operation.method.toLowerCase(), text: operation.method }),
      ' ',
      el('code', { class: 'path', text: operation.path }),
    ]));
    if (operation.summary) article.appendChild(el('p', { class: 'summary', text: operation.summary }));

    var paragraphs = paragraphsOf(str(op.description));
    var who = null;
    paragraphs = paragraphs.filter(function (p) {
      if (who === null && WHO.test(p)) {
        who = p.replace(WHO, '');
        return false;
      }
      return true;
    });
    var security = Array.isArray(op.security) ? op.security : Array.isArray(spec.security) ? spec.security : [];
    var open = security.length === 0;
    var facts = el('dl', { class: 'facts' });
    facts.appendChild(el('dt', { text: 'Who may call it' }));
    facts.appendChild(el('dd', null, who !== null ? inline(who) : open ? 'anyone' : 'any valid credential'));
    facts.appendChild(el('dt', { text: 'Required key scope' }));
    facts.appendChild(el('dd', null, typeof op['x-required-scope'] === 'string'
      ? el('code', { text: op['x-required-scope'] })
      : open
        ? 'none: no credential needed'
        : 'none beyond a valid key'));
    facts.appendChild(el('dt', { text: 'Credential' }));
    facts.appendChild(el('dd', null, open ? 'none' : [el('code', { text: 'X-API-Key' }), ' header or ', el('code', { text: 'Authorization: Bearer' })]));
    facts.appendChild(el('dt', { text: 'Operation id' }));
    facts.appendChild(el('dd', null, el('code', { text: operation.id })));
    article.appendChild(facts);
    if (paragraphs.length > 0) article.appendChild(markdown(paragraphs.join('\n\n')));

    if (operation.parameters.length > 0) {
      var params = el('section', { class: 'block' }, el('h3', { text: 'Parameters' }));
      var list = el('ul', { class: 'schema schema-root' });
      operation.parameters.forEach(function (parameter) {
        var schema = parameterSchema(parameter);
        var node = schemaNode(str(parameter.name), schema, parameter.required === true, 0, []);
        node.querySelector('.schema-line').appendChild(
          el('span', { class: 'badge', text: 'in ' + str(parameter.in) + (parameter.content ? ' (JSON text)' : '') }),
        );
        if (typeof parameter.description === 'string') node.appendChild(markdown(parameter.description, 'schema-description'));
        list.appendChild(node);
      });
      params.appendChild(el('div', { class: 'schema-box' }, list));
      article.appendChild(params);
    }

    var body = requestBodyOf(op);
    if (body) {
      var bodySection = el('section', { class: 'block' }, [
        el('h3', null, ['Request body ', el('span', { class: 'badge', text: 'application/json' }),
          body.required ? el('span', { class: 'badge badge-required', text: 'required' }) : null]),
      ]);
      if (body.description) bodySection.appendChild(markdown(body.description));
      bodySection.appendChild(schemaTree(body.schema));
      article.appendChild(bodySection);
    }

    article.appendChild(renderResponses(op));
    article.appendChild(renderTry(operation, body));
    main.appendChild(article);
  }

  function parameterSchema(parameter) {
    if (parameter.schema !== undefined) return parameter.schema;
    if (isObject(parameter.content)) {
      var first = parameter.content[Object.keys(parameter.content)[0]];
      if (isObject(first)) return first.schema;
    }
    return undefined;
  }

  function requestBodyOf(op) {
    var body = resolve(op.requestBody, []);
    if (!isObject(body) || !isObject(body.content)) return null;
    var media = body.content['application/json'];
    if (!isObject(media)) return null;
    return { schema: media.schema, required: body.required === true, description: str(body.description) };
  }

  function renderResponses(op) {
    var section = el('section', { class: 'block' }, el('h3', { text: 'Responses' }));
    var responses = isObject(op.responses) ? op.responses : {};
    Object.keys(responses).forEach(function (status) {
      var response = resolve(responses[status], []);
      if (!isObject(response)) return;
      var ok = status.charAt(0) === '2';
      var details = el('details', { class: 'response response-' + status.charAt(0) + 'xx', open: ok });
      details.appendChild(el('summary', null, [
        el('span', { class: 'status status-' + status.charAt(0) + 'xx', text: status }),
        ' ',
        inline(str(response.description)),
      ]));
      var headers = isObject(response.headers) ? Object.keys(response.headers) : [];
      if (headers.length > 0) {
        var dl = el('dl', { class: 'facts' });
        headers.forEach(function (name) {
          var header = resolve(response.headers[name], []);
          dl.appendChild(el('dt', null, el('code', { text: name })));
          var dd = el('dd', null, isObject(header) ? markdown(str(header.description)) : null);
          if (isObject(header) && header.example !== undefined)
            dd.appendChild(el('p', null, ['e.g. ', el('code', { text: typeof header.example === 'string' ? header.example : JSON.stringify(header.example) })]));
          dl.appendChild(dd);
        });
        details.appendChild(el('h4', { text: 'Headers' }));
        details.appendChild(dl);
      }
      var content = isObject(response.content) ? response.content['application/json'] : null;
      if (isObject(content)) {
        if (content.schema !== undefined) {
          details.appendChild(el('h4', { text: 'Body' }));
          details.appendChild(schemaTree(content.schema));
        }
        if (content.example !== undefined) {
          details.appendChild(el('h4', { text: 'Example' }));
          details.appendChild(el('pre', { class: 'code' }, el('code', { text: JSON.stringify(content.example, null, 2) })));
        }
      }
      section.appendChild(details);
    });
    return section;
  }

  // ---- Try it -------------------------------------------------------------------------------

  function storedKey() {
    try {
      return window.sessionStorage.getItem(KEY_STORAGE) || '';
    } catch (_error) {
      return '';
    }
  }

  function storeKey(value) {
    try {
      if (value) window.sessionStorage.setItem(KEY_STORAGE, value);
      else window.sessionStorage.removeItem(KEY_STORAGE);
    } catch (_error) {
      // Storage refused (private mode): the key lives in the field only.
    }
  }

  function field(labelText, input, hint) {
    var id = newId('field');
    input.setAttribute('id', id);
    var hintNode = null;
    if (hint) {
      var hintId = id + '-hint';
      hintNode = el('p', { id: hintId, class: 'hint' }, hint);
      input.setAttribute('aria-describedby', hintId);
    }
    return el('div', { class: 'field' }, [el('label', { for: id, text: labelText }), input, hintNode]);
  }

  function parameterInput(parameter) {
    var schema = resolve(parameterSchema(parameter), []);
    var values = isObject(schema) && Array.isArray(schema.enum) ? schema.enum : null;
    if (isObject(schema) && (schema.type === 'boolean' || (Array.isArray(schema.type) && schema.type.indexOf('boolean') >= 0)))
      values = [true, false];
    if (values) {
      var select = el('select', null, el('option', { value: '', text: parameter.required ? '(choose)' : '(not sent)' }));
      values.forEach(function (value) {
        select.appendChild(el('option', { value: String(value), text: String(value) }));
      });
      return select;
    }
    return el('input', {
      type: 'text',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: parameter.content ? 'JSON' : isObject(schema) && schema.type === 'array' ? 'comma-separated' : typeLabel(schema),
    });
  }

  function shellQuote(text) {
    return "'" + String(text).replace(/'/g, "'\\''") + "'";
  }

  function renderTry(operation, body) {
    var open = !Array.isArray(operation.op.security) || operation.op.security.length === 0;
    var section = el('section', { class: 'block try', 'aria-labelledby': 'try-title' });
    section.appendChild(el('h3', { id: 'try-title', text: 'Try it' }));
    var form = el('form', { class: 'try-form', novalidate: true, 'aria-label': 'Try ' + operation.method + ' ' + operation.path });

    var keyInput = el('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', placeholder: 'bc_live_\u2026', 'data-testid': 'api-key' });
    keyInput.value = storedKey();
    keyInput.addEventListener('input', function () {
      storeKey(keyInput.value.trim());
    });
    form.appendChild(field('API key', keyInput, open
      ? 'Not needed for this route. Kept in this tab\u2019s session storage only.'
      : 'Sent as X-API-Key. Kept in this tab\u2019s session storage only (gone when the tab closes).'));
    var forget = el('button', { type: 'button', class: 'secondary', text: 'Forget key' });
    forget.addEventListener('click', function () {
      keyInput.value = '';
      storeKey('');
      update();
      keyInput.focus();
    });
    form.appendChild(el('div', { class: 'row' }, forget));

    var inputs = [];
    operation.parameters.forEach(function (parameter) {
      if (parameter.in !== 'path' && parameter.in !== 'query') return;
      var input = parameterInput(parameter);
      inputs.push({ parameter: parameter, input: input });
      var label = str(parameter.name) + ' (' + parameter.in + (parameter.required ? ', required' : '') + ')';
      form.appendChild(field(label, input));
    });

    var textarea = null;
    if (body) {
      textarea = el('textarea', { rows: '10', spellcheck: 'false', class: 'code', 'data-testid': 'try-body-input' });
      textarea.value = JSON.stringify(skeleton(body.schema, 0), null, 2);
      form.appendChild(field('Request body (JSON)', textarea, 'Prefilled with every field of the schema; remove what you do not send.'));
    }

    var send = el('button', { type: 'submit', class: 'primary', text: 'Send request' });
    form.appendChild(el('div', { class: 'row' }, send));

    var curlCode = el('code', { 'data-testid': 'curl' });
    var curlPre = el('pre', { class: 'code curl', tabindex: '0', 'aria-label': 'curl command' }, curlCode);
    var copy = el('button', { type: 'button', class: 'secondary', text: 'Copy curl command' });
    var copyStatus = el('span', { class: 'hint', role: 'status' });
    copy.addEventListener('click', function () {
      var text = curlCode.textContent;
      var done = function () {
        copyStatus.textContent = 'Copied.';
      };
      var fallback = function () {
        var range = document.createRange();
        range.selectNodeContents(curlCode);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        copyStatus.textContent = 'Selected: press Ctrl+C (\u2318C) to copy.';
      };
      if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(done, fallback);
      else fallback();
    });

    var result = el('div', { class: 'try-result', 'aria-live': 'polite', 'data-testid': 'try-result' });

    function build() {
      var problems = [];
      var path = operation.path.replace(/\{([^}]+)\}/g, function (whole, name) {
        var entry = inputs.filter(function (e) {
          return e.parameter.in === 'path' && e.parameter.name === name;
        })[0];
        var value = entry ? entry.input.value.trim() : '';
        if (!value) {
          problems.push('Fill in the path parameter \u201c' + name + '\u201d.');
          return whole;
        }
        return encodeURIComponent(value);
      });
      var query = new URLSearchParams();
      inputs.forEach(function (entry) {
        if (entry.parameter.in !== 'query') return;
        var value = entry.input.value.trim();
        var name = str(entry.parameter.name);
        if (!value) {
          if (entry.parameter.required) problems.push('Fill in the query parameter \u201c' + name + '\u201d.');
          return;
        }
        var schema = resolve(parameterSchema(entry.parameter), []);
        if (!entry.parameter.content && isObject(schema) && schema.type === 'array') {
          value.split(',').map(function (v) { return v.trim(); }).filter(Boolean).forEach(function (v) {
            query.append(name, v);
          });
        } else query.append(name, value);
      });
      var search = query.toString();
      var url = path + (search ? '?' + search : '');
      var text = textarea ? textarea.value.trim() : '';
      if (text) {
        try {
          JSON.parse(text);
        } catch (error) {
          problems.push('The body is not JSON: ' + (error && error.message ? error.message : String(error)));
        }
      }
      return { url: url, body: text || null, problems: problems, key: keyInput.value.trim() };
    }

    function update() {
      var request = build();
      var lines = ['curl -sS -X ' + operation.method + ' ' + shellQuote(window.location.origin + request.url)];
      if (!open || request.key) lines.push('-H "X-API-Key: $BC_API_KEY"');
      if (request.body !== null) {
        lines.push("-H 'Content-Type: application/json'");
        lines.push('--data-raw ' + shellQuote(request.body));
      }
      curlCode.textContent = lines.join(' \\\n  ');
    }

    form.addEventListener('input', update);
    form.addEventListener('change', update);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var request = build();
      clear(result);
      if (request.problems.length > 0) {
        result.appendChild(el('div', { role: 'alert', class: 'error' }, request.problems.map(function (p) {
          return el('p', { text: p });
        })));
        return;
      }
      var headers = { Accept: 'application/json' };
      if (request.key) headers['X-API-Key'] = request.key;
      if (request.body !== null) headers['Content-Type'] = 'application/json';
      send.disabled = true;
      result.appendChild(el('p', { class: 'muted', text: 'Sending\u2026' }));
      var started = performance.now();
      fetch(request.url, {
        method: operation.method,
        headers: headers,
        body: request.body,
        credentials: 'omit',
        cache: 'no-store',
      })
        .then(function (response) {
          return response.text().then(function (text) {
            showResponse(result, response, text, Math.round(performance.now() - started));
          });
        })
        .catch(function (error) {
          clear(result);
          result.appendChild(el('p', { role: 'alert', class: 'error', text: 'The request failed: ' + String(error && error.message ? error.message : error) }));
        })
        .then(function () {
          send.disabled = false;
        });
    });

    form.appendChild(el('h4', { text: 'curl' }));
    form.appendChild(curlPre);
    form.appendChild(el('div', { class: 'row' }, [copy, ' ', copyStatus]));
    form.appendChild(el('p', { class: 'hint', text: 'The command reads your key from the BC_API_KEY environment variable; it never contains the key itself.' }));
    section.appendChild(form);
    section.appendChild(el('h4', { text: 'Response' }));
    section.appendChild(result);
    update();
    return section;
  }

  function showResponse(result, response, text, ms) {
    clear(result);
    var kind = String(response.status).charAt(0) + 'xx';
    result.appendChild(el('p', { class: 'status-line' }, [
      el('span', { class: 'status status-' + kind, 'data-testid': 'try-status', text: String(response.status) }),
      ' ' + (response.statusText || '') + ' \u00b7 ' + ms + ' ms',
    ]));
    var dl = el('dl', { class: 'facts response-headers' });
    SHOWN_HEADERS.forEach(function (name) {
      var value = response.headers.get(name);
      if (value === null) return;
      dl.appendChild(el('dt', null, el('code', { text: name })));
      dl.appendChild(el('dd', null, el('code', { text: value })));
    });
    if (dl.childNodes.length > 0) result.appendChild(dl);
    var shown = text;
    if (text) {
      try {
        shown = JSON.stringify(JSON.parse(text), null, 2);
      } catch (_error) {
        shown = text;
      }
    } else shown = '(no body)';
    result.appendChild(el('pre', { class: 'code', tabindex: '0', 'aria-label': 'Response body' }, el('code', { 'data-testid': 'try-response-body', text: shown })));
  }

  // ---- Start --------------------------------------------------------------------------------

  function route() {
    if (!spec) return;
    var hash = window.location.hash.slice(1);
    var id = '';
    try {
      id = decodeURIComponent(hash);
    } catch (_error) {
      id = '';
    }
    var operation = id ? byId.get(id) : undefined;
    if (operation) {
      renderOperation(operation);
      var title = document.getElementById('operation-title');
      if (title && document.activeElement && document.activeElement.classList.contains('op-link')) {
        title.setAttribute('tabindex', '-1');
        title.focus();
      }
      document.title = operation.method + ' ' + operation.path + ' \u00b7 API reference';
    } else {
      renderIntro();
      document.title = 'API reference';
    }
  }

  function fail(message) {
    var main = document.getElementById('content');
    clear(main);
    main.appendChild(el('p', { role: 'alert', class: 'error', text: message }));
  }

  function start() {
    var filter = document.getElementById('filter');
    filter.addEventListener('input', applyFilter);
    window.addEventListener('hashchange', route);
    fetch(DOCUMENT_URL, { headers: { Accept: 'application/json' }, credentials: 'omit' })
      .then(function (response) {
        if (!response.ok) throw new Error(DOCUMENT_URL + ' answered ' + response.status);
        return response.json();
      })
      .then(function (document_) {
        if (!isObject(document_)) throw new Error(DOCUMENT_URL + ' is not an OpenAPI document');
        spec = document_;
        operations = collectOperations();
        operations.forEach(function (operation) {
          byId.set(operation.id, operation);
        });
        var info = isObject(spec.info) ? spec.info : {};
        document.getElementById('version').textContent = info.version ? 'version ' + String(info.version) : '';
        if (info.title) document.getElementById('site-title').textContent = String(info.title);
        renderSidebar();
        applyFilter();
        filter.disabled = false;
        document.body.setAttribute('data-ready', 'true');
        route();
      })
      .catch(function (error) {
        fail('Could not load the API document: ' + String(error && error.message ? error.message : error));
      });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
`;
