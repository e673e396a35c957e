"""Scene adapter for MJX's JAX implementation (backend="mjx").

MJX-JAX rejects 28 of metaworld's 36 stock scenes (39 of 50 tasks): it has no collision
function for cylinder-box and cylinder-mesh pairs, and no margin on pairs with a mesh. This
module edits a stock scene through `mujoco.MjSpec` so MJX-JAX accepts it while staying as
close to it as possible. The edits, each switchable in `AdapterOptions`:

  prisms   collision cylinders -> convex regular prisms (`prism_sides` sides, same height,
           same cross-section area, same pose)
  hulls    collision meshes -> convex hulls of at most `hull_vertices` vertices (MuJoCo's
           `maxhullvert`; MJX collides meshes through their hull anyway, and its cost
           grows with the vertex count: the gripper base hull has ~880)
  margins  margin and gap -> 0 on geoms that can touch a mesh (the finger pads and claws
           carry 1 mm); with `inflate` (default) those boxes grow by their margin, so contact
           starts at the same distance (zeroing alone lost grasps: handle-pull-side 50 -> 33)
  floor    the floor plane collides with nothing: it lies 0.9 m below the table top,
           behind the table's retaining walls, out of reach of the hand (the mocap bounds
           keep it above the table) and of every object; its pairs only cost code
  contacts MJX's `max_contact_points`: per contact dimension, the N deepest contact
           candidates enter the solver (MJX-JAX otherwise keeps every candidate of every
           pair, ~180 to ~1,200 per scene, and its elliptic-cone solver unrolls a loop
           over them); C MuJoCo ignores it
  solver   iterations / ls_iterations (None keeps metaworld's 50 / 50)
  visuals  visual-only mesh geoms become 1 mm spheres and their meshes leave the model:
           they take no part in the physics (no collision; inertias are copied from the
           stock model), but MJX-Warp hands every mesh array to its kernels, so the
           arm's visual meshes (~46k vertices, ~67k faces per scene) were constants of the
           compiled program. Rendering uses the stock scene.

Nothing else changes: body masses, inertias and frames are copied from the stock model, so
only collision shapes differ. Visual-only geoms are left alone. `docs/mjx-scene-adapter.md`
lists each edit with its reason and its measured effect on agreement with the stock scene.
"""

from __future__ import annotations

import copy
import dataclasses
import functools

import mujoco
import numpy as np

from metaworld_jax import assets

_CYLINDER, _MESH = mujoco.mjtGeom.mjGEOM_CYLINDER, mujoco.mjtGeom.mjGEOM_MESH


@dataclasses.dataclass(frozen=True)
class AdapterOptions:
    prisms: bool = True
    prism_sides: int = 16
    hulls: bool = True
    hull_vertices: int = 32
    margins: bool = True
    # With margins: grow each box geom whose margin is zeroed by that margin (contact starts
    # at the same distance, as a penetration instead of a margin contact).
    inflate: bool = True
    floor: bool = True
    max_contact_points: int | None = 64
    iterations: int | None = 5
    ls_iterations: int | None = 8
    visuals: bool = True

    def __post_init__(self):
        if self.prism_sides < 3:
            raise ValueError(f"prism_sides must be >= 3, got {self.prism_sides}")
        if self.hull_vertices < 4:
            raise ValueError(f"hull_vertices must be >= 4 (MuJoCo's minimum), got {self.hull_vertices}")
        for name in ("max_contact_points", "iterations", "ls_iterations"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {v}")


@dataclasses.dataclass(frozen=True)
class AdaptedScene:
    model: mujoco.MjModel
    edits: tuple[str, ...]  # one line per concrete edit, e.g. "prism: geom 37 (objGeom) r=0.02 h=0.02"
    # geom id -> f64[3, 3] C with stock geom_xmat = adapted geom_xmat @ C. MuJoCo expresses a
    # mesh geom in the mesh's principal axes, so a prism's frame may turn (same shape, same
    # place); readings of its orientation are mapped back to the stock frame.
    frame_fix: dict = dataclasses.field(default_factory=dict)


def prism_vertices(radius: float, half_height: float, sides: int) -> np.ndarray:
    """f64[2*sides, 3]: a regular prism along z with the cylinder's cross-section area."""
    # Area-preserving circumradius: sides/2 * R^2 * sin(2pi/sides) = pi r^2.
    r = radius * np.sqrt(2.0 * np.pi / (sides * np.sin(2.0 * np.pi / sides)))
    theta = 2.0 * np.pi * np.arange(sides) / sides
    ring = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    return np.concatenate(
        [np.column_stack([ring, np.full(sides, -half_height)]), np.column_stack([ring, np.full(sides, half_height)])]
    )


def _collides(model: mujoco.MjModel, g: int) -> bool:
    return bool(model.geom_contype[g] or model.geom_conaffinity[g])


def _can_touch(model: mujoco.MjModel, a: int, b: int) -> bool:
    """MuJoCo's contype/conaffinity filter (ignores body exclusions and parent filtering)."""
    return bool(
        (model.geom_contype[a] & model.geom_conaffinity[b]) or (model.geom_contype[b] & model.geom_conaffinity[a])
    )


@functools.cache
def adapt(scene: str, options: AdapterOptions = AdapterOptions()) -> AdaptedScene:
    """The MJX-JAX variant of a stock scene (cached; callers must not edit the model)."""
    stock = assets.load_model(scene)
    spec = mujoco.MjSpec.from_file(str(assets.metaworld_asset_dir() / scene))
    geoms = spec.geoms
    if len(geoms) != stock.ngeom or any(int(g.type) != int(t) for g, t in zip(geoms, stock.geom_type)):
        raise RuntimeError(f"{scene}: spec geoms do not line up with the compiled model's")
    edits: list[str] = []

    def label(i):
        return f"geom {i} ({stock.geom(i).name or stock.body(stock.geom_bodyid[i]).name + '/#' + str(i)})"

    if options.prisms:
        for i, g in enumerate(geoms):
            if stock.geom_type[i] != _CYLINDER or not _collides(stock, i):
                continue
            radius, half = float(stock.geom_size[i, 0]), float(stock.geom_size[i, 1])
            mesh = spec.add_mesh()
            mesh.name = f"mjx_prism_{i}"
            mesh.uservert = prism_vertices(radius, half, options.prism_sides).reshape(-1)
            # The compiled pose already resolves fromto / defaults; set it explicitly.
            g.fromto = np.full(6, np.nan)
            g.pos, g.quat = stock.geom_pos[i].copy(), stock.geom_quat[i].copy()
            g.type, g.meshname = _MESH, mesh.name
            edits.append(f"prism: {label(i)} r={radius:g} h={2 * half:g} sides={options.prism_sides}")

    if options.hulls:
        used = {int(stock.geom_dataid[i]) for i in range(stock.ngeom) if stock.geom_type[i] == _MESH and _collides(stock, i)}
        for mid in sorted(used):
            n = _hull_vertex_count(stock, mid)
            if n > options.hull_vertices:
                spec.meshes[mid].maxhullvert = options.hull_vertices
                edits.append(f"hull: mesh {stock.mesh(mid).name} {n} -> <= {options.hull_vertices} hull vertices")

    is_mesh = [int(g.type) == int(_MESH) for g in geoms]  # after the prism edit
    if options.margins:
        for i, g in enumerate(geoms):
            if not (stock.geom_margin[i] > 0 or stock.geom_gap[i] > 0) or not _collides(stock, i):
                continue
            if any(is_mesh[j] and _can_touch(stock, i, j) for j in range(stock.ngeom) if j != i):
                edits.append(f"margin: {label(i)} margin {stock.geom_margin[i]:g} gap {stock.geom_gap[i]:g} -> 0")
                if options.inflate and stock.geom_type[i] == mujoco.mjtGeom.mjGEOM_BOX:
                    g.size = stock.geom_size[i] + stock.geom_margin[i]
                    edits.append(f"inflate: {label(i)} half-sizes + {stock.geom_margin[i]:g}")
                g.margin, g.gap = 0.0, 0.0

    if options.floor:
        for i, g in enumerate(geoms):
            if stock.geom_type[i] == mujoco.mjtGeom.mjGEOM_PLANE and _collides(stock, i):
                g.contype, g.conaffinity = 0, 0
                edits.append(f"floor: {label(i)} collides with nothing")
    if options.max_contact_points is not None:
        numeric = spec.add_numeric()
        numeric.name, numeric.data = "max_contact_points", [float(options.max_contact_points)]
        edits.append(f"contacts: max_contact_points {options.max_contact_points} per contact dimension (MJX only)")
    if options.visuals:
        _strip_visual_meshes(spec, stock, geoms, edits, label)
    if options.iterations is not None:
        edits.append(f"solver: iterations {spec.option.iterations} -> {options.iterations}")
        spec.option.iterations = options.iterations
    if options.ls_iterations is not None:
        edits.append(f"solver: ls_iterations {spec.option.ls_iterations} -> {options.ls_iterations}")
        spec.option.ls_iterations = options.ls_iterations

    # Keep the stock dynamics: only collision shapes may differ.
    bodies = _compile_order(spec.worldbody)
    if len(bodies) != stock.nbody or any(b.name and b.name != stock.body(i).name for i, b in enumerate(bodies)):
        raise RuntimeError(f"{scene}: spec bodies do not line up with the compiled model's")
    for i, b in enumerate(bodies[1:], start=1):
        b.explicitinertial = True
        b.mass, b.ipos, b.iquat = float(stock.body_mass[i]), stock.body_ipos[i].copy(), stock.body_iquat[i].copy()
        b.inertia = stock.body_inertia[i].copy()
        b.fullinertia = np.full(6, np.nan)
    model = assets.finish_model(spec.compile())
    _check_same_dynamics(scene, stock, model)
    frame_fix = {}
    for i in range(stock.ngeom):
        if not np.allclose(model.geom_pos[i], stock.geom_pos[i], atol=1e-9):
            raise RuntimeError(f"{scene}: {label(i)} moved in the adapted scene")
        if not np.allclose(model.geom_quat[i], stock.geom_quat[i], atol=1e-12):
            frame_fix[i] = _quat_mat(model.geom_quat[i]).T @ _quat_mat(stock.geom_quat[i])
    return AdaptedScene(model=model, edits=tuple(edits), frame_fix=frame_fix)


def frame_fix(scene: str, variant: "str | AdapterOptions" = "stock") -> dict:
    """`AdaptedScene.frame_fix` of a scene variant ({} for the stock scene)."""
    if isinstance(variant, AdapterOptions):
        return adapt(scene, variant).frame_fix
    return {"mjx": adapt(scene).frame_fix, "warp": adapt(scene, WARP).frame_fix}.get(variant, {})


def _quat_mat(q) -> np.ndarray:
    out = np.zeros(9)
    mujoco.mju_quat2Mat(out, np.asarray(q, np.float64))
    return out.reshape(3, 3)


# What backend="warp" simulates: the stock physics exactly, without the visual meshes.
WARP = AdapterOptions(prisms=False, hulls=False, margins=False, floor=False, max_contact_points=None, iterations=None,
                      ls_iterations=None, visuals=True)
SCENE_VARIANTS = ("stock", "mjx", "warp")


def load(scene: str, variant: "str | AdapterOptions" = "stock") -> mujoco.MjModel:
    """A private copy of a scene: metaworld's stock one ("stock"), its MJX-JAX variant
    ("mjx"), its MJX-Warp variant ("warp": stock physics, no visual meshes), or the variant
    of other `AdapterOptions` (to measure one edit at a time)."""
    if isinstance(variant, AdapterOptions):
        return copy.copy(adapt(scene, variant).model)
    if variant == "stock":
        return assets.load_model(scene)
    if variant == "mjx":
        return copy.copy(adapt(scene).model)
    if variant == "warp":
        return copy.copy(adapt(scene, WARP).model)
    raise ValueError(f"unknown scene variant {variant!r}; choose one of {', '.join(SCENE_VARIANTS)}")


def _strip_visual_meshes(spec, stock, geoms, edits, label) -> None:
    """Visual-only mesh geoms -> 1 mm spheres in the same place; their meshes are deleted."""
    stripped = set()
    for i, g in enumerate(geoms):
        if int(g.type) != int(_MESH) or _collides(stock, i):
            continue
        stripped.add(g.meshname)
        g.fromto = np.full(6, np.nan)
        g.pos, g.quat = stock.geom_pos[i].copy(), stock.geom_quat[i].copy()
        g.type, g.meshname, g.size = mujoco.mjtGeom.mjGEOM_SPHERE, "", np.array([1e-3, 0.0, 0.0])
    used = {g.meshname for g in geoms if int(g.type) == int(_MESH)}
    for mesh in [m for m in spec.meshes if m.name in stripped and m.name not in used]:
        spec.delete(mesh) if hasattr(spec, "delete") else mesh.delete()  # MuJoCo 4 / 3.3
    if stripped:
        edits.append(f"visuals: {len(stripped)} visual-only meshes removed (their geoms: 1 mm spheres)")


def _compile_order(body) -> list:
    """Spec bodies in the compiled model's order (depth first; `spec.bodies` is not)."""
    out = [body]
    for child in body.bodies:
        out += _compile_order(child)
    return out


def _hull_vertex_count(model: mujoco.MjModel, mesh_id: int) -> int:
    adr = model.mesh_graphadr[mesh_id]
    return int(model.mesh_graph[adr]) if adr >= 0 else int(model.mesh_vertnum[mesh_id])


def _check_same_dynamics(scene: str, stock: mujoco.MjModel, model: mujoco.MjModel) -> None:
    same = (
        model.nbody == stock.nbody
        and model.ngeom == stock.ngeom
        and model.nq == stock.nq
        and model.nv == stock.nv
        and np.allclose(model.body_mass, stock.body_mass)
        and np.allclose(model.body_inertia, stock.body_inertia)
        and np.allclose(model.body_ipos, stock.body_ipos)
    )
    if not same:
        raise RuntimeError(f"{scene}: the adapted scene's bodies differ from the stock scene's")
