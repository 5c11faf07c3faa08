import t from 'tap';
import { rm } from 'node:fs/promises';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { ErrorCode } from '../../../src/errors.js';
import { metaExtent, WORLD_HALF_METRES } from '../../../src/render/mapnik/extent.js';
import { loadMapnik } from '../../../src/render/mapnik/mapnik-api.js';
import { createMapnikRenderer, datasourceTypes, fontFaces } from '../../../src/render/mapnik/mapnik-renderer.js';
import { styleXml, WORLD_HALF } from '../../fixtures/map-style/make-style.js';
import { decode, tempStyle } from './helpers.js';

t.test('metaExtent gives the EPSG:3857 box of a metatile', async (t) => {
  t.equal(WORLD_HALF_METRES, WORLD_HALF);
  t.same(metaExtent({ z: 0, x: 0, y: 0, size: 1 }), [-WORLD_HALF, -WORLD_HALF, WORLD_HALF, WORLD_HALF]);
  t.same(metaExtent({ z: 4, x: 8, y: 0, size: 8 }), [0, 0, WORLD_HALF, WORLD_HALF]);
});

t.test('datasourceTypes lists the plugins a style names, plain or CDATA, once each', async (t) => {
  const xml = `${styleXml()}<Parameter name="type"><![CDATA[postgis]]></Parameter><Parameter name='type'> shape </Parameter>`;
  t.same(datasourceTypes(xml), ['geojson', 'postgis', 'shape']);
});

t.test('a font face the style names but Mapnik lacks is a warning (non-strict, as renderd) or a CONFIG_ERROR (strict)', async (t) => {
  t.same(fontFaces(`<a face-name="DejaVu Sans Book"/><Font face-name='X &amp; Y'/><b face-name="DejaVu Sans Book"/>`), ['DejaVu Sans Book', 'X & Y']);
  const ok = await tempStyle(t);
  const good = await createMapnikRenderer({ stylePath: ok.xmlPath });
  t.same(good.warnings, [], 'DejaVu is found');
  await good.close();
  const style = await tempStyle(t, { fontFace: 'Nope Sans' });
  const r = await createMapnikRenderer({ stylePath: style.xmlPath });
  t.same(r.warnings, ['font face not found (labels using it are not drawn): Nope Sans']);
  await r.close();
  await t.rejects(createMapnikRenderer({ stylePath: style.xmlPath, strict: true }), { code: ErrorCode.CONFIG_ERROR, message: /Failed to find font face 'Nope Sans'/ });
});

for (const tileSize of [256, 512] as const) {
  for (const format of ['png256', 'png'] as const) {
    t.test(`${tileSize} px ${format} tiles decode to ${tileSize}×${tileSize} ${format === 'png256' ? 'palette' : 'truecolour'} PNGs; z0 is one tile, z1 a 2×2 metatile`, async (t) => {
      const style = await tempStyle(t);
      const r = await createMapnikRenderer({ stylePath: style.xmlPath, tileSize, format });
      t.teardown(() => r.close());
      const z0 = await r.renderMetaTile({ z: 0, x: 0, y: 0, size: 1 });
      const z1 = await r.renderMetaTile({ z: 1, x: 0, y: 0, size: 2 });
      t.same(z0.map((x) => [x.x, x.y]), [[0, 0]]);
      t.same(z1.map((x) => [x.x, x.y]), [[0, 0], [1, 0], [0, 1], [1, 1]], 'row by row');
      await t.rejects(r.renderMetaTile({ z: 1, x: 1, y: 0, size: 2 }), { code: ErrorCode.BAD_TILE }, 'a metatile off the grid is rejected');
      for (const tile of [...z0, ...z1]) {
        const m = await sharp(tile.png).metadata();
        t.equal(m.format, 'png');
        t.equal(m.width, tileSize);
        t.equal(m.height, tileSize);
        t.equal(m.isPalette, format === 'png256', `tile ${tile.x}/${tile.y} palette: ${m.isPalette}`);
      }
    });
  }
}

t.test('scale 2 draws text at twice the size (about 4× the glyph pixels)', async (t) => {
  const style = await tempStyle(t);
  const red = async (scale: number) => {
    const r = await createMapnikRenderer({ stylePath: style.xmlPath, tileSize: 512, scale, format: 'png' });
    const [tile] = await r.renderMetaTile({ z: 0, x: 0, y: 0, size: 1 });
    await r.close();
    const { data } = await decode(tile!.png);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i]! > 180 && data[i + 1]! < 110 && data[i + 2]! < 110) n++;
    return n;
  };
  const [one, two] = [await red(1), await red(2)];
  t.ok(one > 0, `seam labels drawn at scale 1 (${one} px)`);
  t.ok(two > 2.5 * one && two < 6 * one, `scale 2: ${two} px, ${(two / one).toFixed(1)}× scale 1`);
});

t.test("the style's buffer-size is used when set; the option overrides it", async (t) => {
  const style = await tempStyle(t, { bufferSize: 64 });
  const fromStyle = await createMapnikRenderer({ stylePath: style.xmlPath });
  t.equal(fromStyle.bufferSize, 64);
  const fromOption = await createMapnikRenderer({ stylePath: style.xmlPath, bufferSize: 32 });
  t.equal(fromOption.bufferSize, 32);
  await Promise.all([fromStyle.close(), fromOption.close()]);
});

t.test('a style that does not load fails with CONFIG_ERROR naming the file and the reason', async (t) => {
  const style = await tempStyle(t);
  const missing = path.join(style.dir, 'nope.xml');
  await t.rejects(createMapnikRenderer({ stylePath: missing }), { code: ErrorCode.CONFIG_ERROR, message: `Mapnik style ${missing} cannot be read: no such file` });

  const bad = path.join(style.dir, 'bad.xml');
  await writeFile(bad, '<Map><Layer name="x"></Map>');
  const err = (await createMapnikRenderer({ stylePath: bad }).then(() => undefined, (e: unknown) => e)) as Error & { code: string };
  t.equal(err.code, ErrorCode.CONFIG_ERROR);
  t.match(err.message, new RegExp(`^Mapnik style ${bad} does not load: .+`), err.message);

  const lacking = path.join(style.dir, 'lacking.xml');
  await writeFile(lacking, styleXml({ extraLayersXml: '<Layer name="osm"><Datasource><Parameter name="type">osm</Parameter></Datasource></Layer>' }));
  await t.rejects(createMapnikRenderer({ stylePath: lacking }), {
    code: ErrorCode.CONFIG_ERROR,
    message: new RegExp(`^Mapnik style ${lacking} needs the datasource plugin osm, which this Mapnik \\(4\\.[0-9.]+\\) lacks; it has: .*geojson`),
  });

  const badData = path.join(style.dir, 'bad-data.xml');
  await writeFile(badData, styleXml().replace('countries.geojson', 'gone.geojson'));
  await t.rejects(createMapnikRenderer({ stylePath: badData }), { code: ErrorCode.CONFIG_ERROR, message: /does not load: .*gone\.geojson/ });
});

t.test('a datasource gone at render time fails that metatile with PROCESSING_ERROR naming the reason', async (t) => {
  // cache_features=false: Mapnik reads the GeoJSON at each render, as a database layer would query.
  const extra = `<Layer name="late" srs="${'+proj=merc +a=6378137 +b=6378137 +lat_ts=0.0 +lon_0=0.0 +x_0=0.0 +y_0=0.0 +k=1.0 +units=m +nadgrids=@null +wktext +no_defs +over'}">
    <StyleName>borders</StyleName>
    <Datasource><Parameter name="type">geojson</Parameter><Parameter name="file">borders.geojson</Parameter><Parameter name="cache_features">false</Parameter></Datasource>
  </Layer>`;
  const style = await tempStyle(t, { extraLayersXml: extra });
  const r = await createMapnikRenderer({ stylePath: style.xmlPath });
  t.teardown(() => r.close());
  t.equal((await r.renderMetaTile({ z: 1, x: 0, y: 0, size: 2 })).length, 4, 'renders while the file is there');
  await rm(style.files.borders);
  await t.rejects(r.renderMetaTile({ z: 2, x: 0, y: 0, size: 4 }), {
    code: ErrorCode.PROCESSING_ERROR,
    message: new RegExp(`^Mapnik could not render metatile 2/0/0: .*${style.files.borders.replace(/[.]/g, '\\.')}`),
  });
});

t.test('without @mapnik/mapnik the renderer fails with RENDERER_UNAVAILABLE naming the package to install', async (t) => {
  const importer = () => Promise.reject(Object.assign(new Error("Cannot find package '@mapnik/mapnik'"), { code: 'ERR_MODULE_NOT_FOUND' }));
  await t.rejects(loadMapnik(importer), { code: ErrorCode.RENDERER_UNAVAILABLE, message: /npm install @mapnik\/mapnik/ });
  await t.rejects(createMapnikRenderer({ stylePath: '/nonexistent/style.xml' }, { importer }), {
    code: ErrorCode.RENDERER_UNAVAILABLE,
    message: /^the Mapnik renderer needs the @mapnik\/mapnik package.*Cannot find package.*install it with: npm install @mapnik\/mapnik$/,
  });
});

t.test('bad options are CONFIG_ERRORs before anything loads', async (t) => {
  await t.rejects(createMapnikRenderer({ stylePath: 'x.xml', tileSize: 300 as 256 }), { code: ErrorCode.CONFIG_ERROR, message: /256 or 512/ });
  await t.rejects(createMapnikRenderer({ stylePath: 'x.xml', bufferSize: 5000 }), { code: ErrorCode.CONFIG_ERROR, message: /0\.\.1024/ });
});
