#!/usr/bin/env bash
# Builds the API reference (docs/api) from the TSDoc of components/ with TypeDoc (typedoc.json)
# and fails on any warning: a broken {@link}, a type that is used but not exported, or a public
# declaration without documentation. "Public declaration" means every exported function, class,
# interface, type and constant, and every member of an exported interface or class, so every arg
# of every component. The members of object literals (the inferred return type of a spec builder,
# the fields of a zod schema, an `as const` table) are values, not declarations: TypeDoc lists
# them but there is no declaration to document, so a small plugin marks them as intentionally not
# documented and TypeDoc checks everything else.
#
# Usage: scripts/docs.sh [typedoc options]      e.g. scripts/docs.sh --emit none (check only)
set -euo pipefail
cd "$(dirname "$0")/.."

plugin_dir=$(mktemp -d)
trap 'rm -rf "$plugin_dir"' EXIT
cat >"$plugin_dir/object-literal-members.mjs" <<'JS'
import { createRequire } from "node:module";
import * as path from "node:path";

const require = createRequire(path.join(process.cwd(), "package.json"));
const ts = require("typescript");
const { ReflectionKind } = require("typedoc");

const isObjectLiteralMember = (declaration) =>
    declaration !== undefined &&
    declaration.parent !== undefined &&
    ts.isObjectLiteralExpression(declaration.parent) &&
    (ts.isPropertyAssignment(declaration) || ts.isShorthandPropertyAssignment(declaration) || ts.isMethodDeclaration(declaration));

export function load(app) {
    const valueMembers = [];
    app.converter.on("createDeclaration", (context, reflection) => {
        const symbol = context.getSymbolFromReflection(reflection);
        const declarations = symbol?.getDeclarations() ?? [];
        // Members that TypeScript synthesizes (the keys of a zod enum) or takes from a mapped type of
        // a library (Record<Role, …>) have no declaration in this package to document either.
        const fromThisPackage = declarations.some((d) => !d.getSourceFile().fileName.includes("/node_modules/"));
        if (!fromThisPackage || declarations.every(isObjectLiteralMember)) {
            valueMembers.push(reflection);
        }
    });
    // Only what TypeDoc would check: members (not the type literals that hold them), outside of
    // parameter types, which TypeDoc never asks to document.
    const checked = (reflection) => {
        for (let r = reflection.parent; r; r = r.parent) {
            if (r.kindOf(ReflectionKind.Parameter)) return false;
        }
        return reflection.kindOf(ReflectionKind.Property | ReflectionKind.Method | ReflectionKind.Accessor) && !reflection.hasComment();
    };
    app.converter.on("resolveEnd", () => {
        const names = valueMembers.filter(checked).map((r) => r.getFriendlyFullName());
        app.options.setValue("intentionallyNotDocumented", [...app.options.getValue("intentionallyNotDocumented"), ...new Set(names)]);
    });
}
JS

npx typedoc --plugin "$plugin_dir/object-literal-members.mjs" "$@"
