import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

const BUILTINS = new Set(builtinModules);

/** The package a bare specifier names: `@scope/name` or `name`, without a subpath. */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/**
 * The packages that the JavaScript files under `directory` import by a bare specifier (static
 * `import ... from`, side-effect `import '...'`, `export ... from`, and `import('...')` with a
 * string literal), without Node's built-in modules.
 */
export function bareImports(directory: string): Set<string> {
  const found = new Set<string>();
  const files = readdirSync(directory, { recursive: true, withFileTypes: true }).filter(
    (entry) => entry.isFile() && /\.m?js$/.test(entry.name),
  );
  const pattern = /(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])([^'"\s]+)\1/g;
  for (const file of files) {
    const text = readFileSync(join(file.parentPath, file.name), 'utf8');
    for (const match of text.matchAll(pattern)) {
      const specifier = match[2] ?? '';
      if (/^(\.|\/|node:|data:|file:)/.test(specifier)) continue;
      if (BUILTINS.has(specifier) || BUILTINS.has(packageOf(specifier))) continue;
      found.add(packageOf(specifier));
    }
  }
  return found;
}
